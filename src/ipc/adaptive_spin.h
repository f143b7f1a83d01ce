// How long a doorbell's consumer spins before it sleeps, adapted to how its bells really arrive.
//
// Spinning pays when the producer answers within the spin (~130 ns for the hand-off against ~40 us for a futex
// wake-up here); it costs when the producer is not running, because on two cores the spinning thread takes the CPU
// the producer needs. Measured on the project's VM (docs/bench/breakdown.md): at load average 12-17 a fixed 20 us
// spin made isolated 64 B traffic 1.3-1.9x slower than no spin at all, while on a quiet machine it is the faster
// one. So the budget halves after every spin that ended in a sleep, grows back to twice the time a successful
// spin took, and every kProbeEvery-th wait spins the whole maximum once, so that a budget that fell low can find out
// that spinning pays again.
//
// One per consumer thread, used only by it: no synchronisation.
#pragma once

#include <algorithm>
#include <cstdint>

namespace side::ipc {

class AdaptiveSpin {
 public:
  static constexpr uint64_t kMinNs = 500;  // below this a spin cannot catch even a running producer's answer
  static constexpr unsigned kProbeEvery = 16;

  AdaptiveSpin() = default;  // never spins
  explicit AdaptiveSpin(uint64_t max_ns) : max_(max_ns), budget_(max_ns) {}

  // How long the next wait may spin.
  uint64_t next() {
    if (max_ == 0) return 0;
    return ++waits_ % kProbeEvery == 0 ? max_ : budget_;
  }

  // The spin found its bell after `ns`.
  void caught(uint64_t ns) { budget_ = std::clamp(std::max(budget_, 2 * ns), std::min(kMinNs, max_), max_); }

  // The spin ran out and the consumer slept.
  void missed() { budget_ = std::max(std::min(kMinNs, max_), budget_ / 2); }

  uint64_t budget() const { return budget_; }

 private:
  uint64_t max_ = 0, budget_ = 0;
  unsigned waits_ = 0;
};

}  // namespace side::ipc
