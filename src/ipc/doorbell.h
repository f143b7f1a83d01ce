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

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>

#include "ipc/adaptive_spin.h"

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
    uint64_t spent = 0;
    if (uint32_t bits = spin(std::min(spin_ns, timeout_ns), spent)) return bits;
    return sleep(timeout_ns > spent ? timeout_ns - spent : 0);
  }

  // The same, spinning for as long as `spin` judges worth it, and telling it how the spin went.
  uint32_t wait(AdaptiveSpin& spin_budget, uint64_t timeout_ns) {
    if (uint32_t bits = take()) return bits;
    const uint64_t budget = std::min(spin_budget.next(), timeout_ns);
    uint64_t spent = 0;
    if (budget) {
      if (uint32_t bits = spin(budget, spent)) {
        spin_budget.caught(spent);
        return bits;
      }
      spin_budget.missed();
    }
    return sleep(timeout_ns > spent ? timeout_ns - spent : 0);
  }

  // The pending bits, cleared, without waiting.
  uint32_t take() { return w_->exchange(0, std::memory_order_acq_rel) & ~kSleeping; }

 private:
  // Polls the word for up to `budget_ns`: the pending bits (taken), or 0 with `spent_ns` the time spun. The clock
  // is read every kTurnsPerClockRead turns only: reading it on every turn was a sixth of the isolated profile.
  uint32_t spin(uint64_t budget_ns, uint64_t& spent_ns) {
    static constexpr unsigned kTurnsPerClockRead = 16;
    if (!budget_ns) return 0;
    const auto start = std::chrono::steady_clock::now();
    for (unsigned turn = 1;; ++turn) {
      if (w_->load(std::memory_order_relaxed) & ~kSleeping) {
        spent_ns = since(start);
        return take();
      }
      if (turn % kTurnsPerClockRead == 0 && (spent_ns = since(start)) >= budget_ns) return 0;
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
  }

  // Sleeps until a bell or `left_ns` passed (0: not at all); the pending bits.
  uint32_t sleep(uint64_t left_ns) {
    uint32_t expected = 0;
    if (left_ns && w_->compare_exchange_strong(expected, kSleeping)) {
      timespec ts{static_cast<time_t>(left_ns / 1'000'000'000), static_cast<long>(left_ns % 1'000'000'000)};
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(w_), FUTEX_WAIT, kSleeping, &ts, nullptr, 0);
    }
    return take();
  }

  static uint64_t since(std::chrono::steady_clock::time_point start) {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
  }

  void wake() {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(w_), FUTEX_WAKE, 1, nullptr, nullptr, 0);
  }
  std::atomic<uint32_t>* w_;
};

}  // namespace side::ipc
