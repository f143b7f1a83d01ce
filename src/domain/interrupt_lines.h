// A domain's interrupt lines: which are asserted and waiting for vCPU 1, which have a handler attached, how many
// were delivered and claimed, and whether they amount to a storm (a line that keeps firing while no handler
// claims it, the kernel's "nobody cared"; or more interrupts a second than any moderated NIC raises).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

namespace side::domain {

class InterruptLines {
 public:
  static constexpr uint32_t kLines = 64;
  struct Stats {
    uint64_t delivered = 0, handled = 0;
  };

  // Any thread. False for a line that does not exist.
  bool raise(uint32_t irq);
  void set_attached(uint32_t irq, bool attached);
  // vCPU 1: the asserted lines, cleared.
  uint64_t take_pending() { return pending_.exchange(0); }
  // vCPU 1, inside a guarded call: runs `handler` for each line in `lines`; it returns whether one claimed it.
  template <class Handler>
  void deliver(uint64_t lines, Handler&& handler) {
    for (uint32_t irq = 0; lines; ++irq, lines >>= 1) {
      if (!(lines & 1)) continue;
      delivered_.fetch_add(1, std::memory_order_relaxed);
      ++window_delivered_;
      if (handler(irq))
        handled_.fetch_add(1, std::memory_order_relaxed);
      else
        ++window_unclaimed_;
    }
  }
  // vCPU 1, after a round: what makes the last second's interrupts a storm, or nullopt.
  std::optional<std::string> storm(uint64_t now_ns);
  Stats stats() const { return {delivered_.load(), handled_.load()}; }

 private:
  // e1000 raises at most 20000 a second (its InterruptThrottleRate); a NIC with moderation a few thousand.
  static constexpr uint64_t kStormUnclaimed = 1000;
  static constexpr uint64_t kStormRate = 20000;

  std::atomic<uint64_t> pending_{0};
  std::atomic<uint64_t> attached_{0};
  std::atomic<uint64_t> delivered_{0}, handled_{0};
  // The current one-second window (vCPU 1 only).
  uint64_t window_start_ns_ = 0, window_unclaimed_ = 0, window_delivered_ = 0;
};

}  // namespace side::domain
