// Wake-ups between processes through one 32-bit word in shared memory (a futex). Producers set event bits; the
// single consumer takes them all at once. The consumer spins for a short while before it sleeps, because a
// blocking wake-up costs ~40 µs here against ~130 ns for a spinning one (see shared/notes/feasibility.md), and a
// producer makes a system call only when the consumer really sleeps.
//
// The word is shared with a peer that may be hostile: any value it writes only causes a spurious wake-up, and
// every sleep has a timeout, so the consumer can neither be confused nor kept asleep.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace side::ipc {

class Doorbell {
 public:
  static constexpr uint32_t kSleeping = 1u << 31;

  explicit Doorbell(std::atomic<uint32_t>* word) : w_(word) {}

  // Producer side. Whether the consumer slept, so that it took a system call to wake it. Only the producer that
  // takes the sleeping mark away wakes it: the consumer needs tens of microseconds to run again (and clear the
  // word), and every other bell rung meanwhile, by this producer or another, is already being answered. Before,
  // each of them made a futex system call of its own (up to 2 per frame, isolated, at 64 B).
  bool ring(uint32_t bits) {
    uint32_t old = w_->fetch_or(bits & ~kSleeping, std::memory_order_acq_rel);
    if (!(old & kSleeping)) return false;
    if (!(w_->fetch_and(~kSleeping, std::memory_order_acq_rel) & kSleeping)) return false;
    wake();
    return true;
  }

  // Consumer side: the pending bits (cleared), waiting up to `timeout_ns` for some; spins `spin_ns` first.
  uint32_t wait(uint64_t spin_ns, uint64_t timeout_ns) {
    if (uint32_t bits = take()) return bits;
    const auto start = std::chrono::steady_clock::now();
    auto since = [&] {
      return static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    };
    while (since() < spin_ns) {
      if (w_->load(std::memory_order_relaxed) & ~kSleeping) return take();
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
    uint64_t left = timeout_ns > since() ? timeout_ns - since() : 0;
    uint32_t expected = 0;
    if (left && w_->compare_exchange_strong(expected, kSleeping)) {
      timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(w_), FUTEX_WAIT, kSleeping, &ts, nullptr, 0);
    }
    return take();
  }

  // The pending bits, cleared, without waiting.
  uint32_t take() {
    return w_->exchange(0, std::memory_order_acq_rel) & ~kSleeping;
  }

 private:
  void wake() {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(w_), FUTEX_WAKE, 1, nullptr, nullptr, 0);
  }
  std::atomic<uint32_t>* w_;
};

}  // namespace side::ipc
