// A 32-bit word of event bits that one thread sleeps on (a futex): producers set bits and wake it; the consumer
// takes all bits at once. A wake costs a system call only when the consumer may be asleep (the word was 0).
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace side::domain {

// Waits while `word` is 0, at most `timeout_ns`. Spurious returns are fine: callers re-check.
inline void futex_wait_zero(std::atomic<uint32_t>& word, uint64_t timeout_ns) {
  timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, 0, &ts, nullptr, 0);
}

inline void futex_wake(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

// Sets `bits` and wakes the waiter if the word was empty (a waiter only sleeps on 0).
inline void post_event(std::atomic<uint32_t>& word, uint32_t bits) {
  if (word.fetch_or(bits) == 0) futex_wake(word);
}

}  // namespace side::domain
