#include "supervisor/liveness.h"

#include <iterator>

#include "ipc/doorbell.h"
#include "ipc/messages.h"
#include "kapi/side_host.h"

namespace side::supervisor {
namespace {

constexpr uint64_t kMs = 1'000'000;

std::string ms_text(uint64_t ns) {
  return std::to_string(ns / kMs) + " ms";
}

}  // namespace

// An operation whose driver may reset its device (ipc/messages.h: kSlow) gets the probe's bound.
unsigned LivenessBounds::request_bound_ms(uint16_t type) const {
  return ipc::control_op_info(type).slow ? probe_ms : request_ms;
}

std::optional<LivenessVerdict> LivenessMonitor::check(uint64_t now_ns) {
  if (auto v = check_rings()) return v;
  if (!watching_) return std::nullopt;
  if (auto v = check_softirq(now_ns)) return v;
  return check_stamps(now_ns);
}

// The rings the supervisor fills: the domain only ever moves their consumer index forward, and never past what was
// produced. (Their producer index is checked by the producer itself, before each message.)
std::optional<LivenessVerdict> LivenessMonitor::check_rings() {
  // (Names are built only for a verdict: this runs between every two requests the domain makes.)
  auto one = [](ipc::Ring& ring, Seen& seen, const char* name) -> std::optional<LivenessVerdict> {
    const auto at = ring.indices();
    if (at.producer - at.consumer > ring.capacity()) {
      return LivenessVerdict{SIDE_FAULT_PROTOCOL, std::string("the domain moved the consumer index of the ") + name +
                                                      " ring past what the supervisor produced (" +
                                                      std::to_string(at.consumer) + " > " +
                                                      std::to_string(at.producer) + ")"};
    }
    // Honest: seen <= consumer <= producer. Backwards: further from the producer than it was (however far both
    // moved since the last look).
    if (at.producer - at.consumer > at.producer - seen.tail) {
      return LivenessVerdict{SIDE_FAULT_PROTOCOL, std::string("the domain moved the consumer index of the ") + name +
                                                      " ring backwards (" + std::to_string(seen.tail) + " to " +
                                                      std::to_string(at.consumer) + ")"};
    }
    seen.tail = at.consumer;
    return std::nullopt;
  };
  if (auto v = one(ch_.control(), control_, "control")) return v;
  if (auto v = one(ch_.tx(), tx_, "transmit")) return v;
  static constexpr const char* kReply[] = {"vCPU 0 reply", "vCPU 1 reply", "vCPU 2 reply"};
  static_assert(std::size(kReply) == ipc::kChannelVcpus);
  for (unsigned cpu = 0; cpu < ipc::kChannelVcpus; ++cpu) {
    if (auto v = one(ch_.reply(cpu), reply_[cpu], kReply[cpu])) return v;
  }
  return std::nullopt;
}

// vCPU 1 takes the interrupt lines pending at the start of each of its rounds. The supervisor raises a heartbeat
// line of its own now and then; one not taken `progress_ms` after it was raised means a vCPU 1 stuck in driver code
// (an interrupt handler, NAPI, a transmit), whatever the domain's stamps say. Only the heartbeat is timed: the
// device's lines may be raised again as soon as they are taken.
std::optional<LivenessVerdict> LivenessMonitor::check_softirq(uint64_t now_ns) {
  auto& pending = ch_.header().irq_pending;
  constexpr uint64_t kBeat = uint64_t{1} << ipc::kIrqHeartbeat;
  if (pending.load(std::memory_order_acquire) & kBeat) {
    if (now_ns - heartbeat_sent_ns_ > uint64_t{bounds_.progress_ms} * kMs) {
      return LivenessVerdict{SIDE_FAULT_HUNG, "virtual CPU 1 has not answered a heartbeat raised " +
                                                  ms_text(now_ns - heartbeat_sent_ns_) +
                                                  " ago (it is stuck in driver code)"};
    }
    return std::nullopt;
  }
  if (now_ns - heartbeat_sent_ns_ >= uint64_t{bounds_.heartbeat_ms} * kMs) {
    heartbeat_sent_ns_ = now_ns;
    pending.fetch_or(kBeat);
    ipc::Doorbell(&ch_.header().softirq_bell).ring(ipc::kBellIrq);
  }
  return std::nullopt;
}

// What the domain says of itself: a stamp older than the bound is a verdict; no stamp (0) proves nothing.
std::optional<LivenessVerdict> LivenessMonitor::check_stamps(uint64_t now_ns) const {
  if (bounds_.stamp_atomic_ms == 0) return std::nullopt;
  for (unsigned cpu = 0; cpu < ipc::kChannelVcpus; ++cpu) {
    const uint64_t since = ch_.header().busy_since_ns[cpu].load(std::memory_order_relaxed);
    const uint64_t limit = uint64_t{cpu == 1 ? bounds_.stamp_atomic_ms : bounds_.stamp_process_ms} * kMs;
    if (since && since < now_ns && now_ns - since > limit) {
      return LivenessVerdict{SIDE_FAULT_HUNG, "virtual CPU " + std::to_string(cpu) + " has been in driver code for " +
                                                  ms_text(now_ns - since)};
    }
  }
  return std::nullopt;
}

}  // namespace side::supervisor
