// Is a domain process still doing its work? Judged on the supervisor's own clock, from what the supervisor asked of
// it: every control request must be answered, a heartbeat the supervisor raises on the interrupt word taken by
// the softirq vCPU, each within a bound, and every ring the supervisor fills must keep sane consumer indices. What the
// domain writes about itself (its busy_since stamps) can only bring a verdict earlier: a domain that writes nothing, or
// lies, is still judged by the work it did not do.
//
// Every bound is here, in one place. A verdict is a fault of the domain: the supervisor kills it and recovery, if
// any, starts a new one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/sanitizer.h"
#include "ipc/channel.h"

namespace side::supervisor {

// Bounds for a healthy driver on a loaded machine; a sanitizer build's driver code is several times slower
// (common/sanitizer.h), so there every bound on driver work is stretched by that much.
struct LivenessBounds {
  static constexpr unsigned kSlow = kSanitizerSlowdown;
  // process start until the kernel-API layer and the driver are loaded and initialised
  unsigned start_ms = 5000 * kSlow;
  // probe, open, close, remove, unload, MTU change: the driver (re)sets its device up. Debian's 82540EM driver
  // takes ~0.1 s; on a loaded two-core machine a restart's probe was seen to take over 3 s.
  unsigned probe_ms = 5000 * kSlow;
  unsigned request_ms = 1000 * kSlow;   // every other control request
  unsigned progress_ms = 1000 * kSlow;  // a heartbeat raised and not taken by the softirq vCPU
  unsigned heartbeat_ms = 100;          // how often the softirq vCPU is asked for a sign of life
  unsigned exit_ms = 500 * kSlow;       // a domain asked to shut down has exited, or it is killed
  // The domain's own stamps (busy_since_ns): a vCPU in one driver entry point for longer is hung. 0 ignores them.
  unsigned stamp_atomic_ms = 1000 * kSlow;   // vCPU 1: interrupt handlers, softirqs, transmits
  unsigned stamp_process_ms = 5000 * kSlow;  // vCPUs 0 and 2: process context (probe, open, work items)

  // How long the supervisor waits for the answer to a control request of `type` (SIDE_MSG_*).
  unsigned request_bound_ms(uint16_t type) const;
};

struct LivenessVerdict {
  int kind;  // SIDE_FAULT_*
  std::string message;
};

// The checks the supervisor's service thread runs every few milliseconds on one domain's channel. Not thread-safe:
// one thread calls check(); note_irq_raised() may be called from any.
class LivenessMonitor {
 public:
  LivenessMonitor(ipc::Channel& channel, const LivenessBounds& bounds) : ch_(channel), bounds_(bounds) {}

  // From the domain's first sign of life on (its READY): heartbeats are raised and progress is expected.
  void start_watching() { watching_ = true; }
  // nullopt while the domain keeps up; `now_ns` is the supervisor's monotonic clock.
  std::optional<LivenessVerdict> check(uint64_t now_ns);

 private:
  std::optional<LivenessVerdict> check_rings();
  std::optional<LivenessVerdict> check_softirq(uint64_t now_ns);
  std::optional<LivenessVerdict> check_stamps(uint64_t now_ns) const;

  ipc::Channel& ch_;
  LivenessBounds bounds_;
  bool watching_ = false;
  uint64_t heartbeat_sent_ns_ = 0;
  // Consumer indices of the rings the supervisor fills, as last seen: they may only move forward.
  struct Seen {
    uint32_t tail = 0;
  } control_, tx_, reply_[ipc::kChannelVcpus];
};

}  // namespace side::supervisor
