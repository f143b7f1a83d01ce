// The shared memory between the supervisor and one domain process: every ring and doorbell of protocol.h at
// offsets both sides compute from the same constants (they run the same binary). The supervisor creates and
// initialises it; the domain maps it from an inherited descriptor and checks its header.
//
//   control       supervisor -> domain vCPU 0     requests (probe, open, ...)
//   events        domain -> supervisor            replies, logs, faults, network device events
//   device[c]     domain vCPU c -> supervisor     config/BAR accesses, DMA mappings
//   reply[c]      supervisor -> domain vCPU c     answers to device reads and maps
//   tx            supervisor -> domain vCPU 1     frames to transmit
//   rx            domain vCPU 1 -> supervisor     received frames
//
// Doorbells: `supervisor` (any domain->supervisor ring has something), `control` (vCPU 0), `softirq` (vCPU 1:
// frames to send or interrupts; the interrupt lines pending are the bits of `irq_pending`), `reply[c]`.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ipc/ring.h"

namespace side::ipc {

inline constexpr unsigned kChannelVcpus = 3;

// `max_payload` 0: a message fits in one slot. The data rings keep 2 KiB slots (a standard frame takes one) and
// carry frames up to SIDE_MAX_FRAME over consecutive slots.
struct RingGeometry {
  uint32_t slots, slot_size, max_payload = 0;
  Ring make(void* shared) const { return Ring(shared, slots, slot_size, max_payload); }
};
inline constexpr RingGeometry kControlRing{16, 4096};
inline constexpr RingGeometry kEventRing{512, 1024};
inline constexpr RingGeometry kDeviceRing{64, 128};
inline constexpr RingGeometry kReplyRing{64, 128};
// The transmit ring also carries segmentation-offload frames (up to 33 slots each).
inline constexpr RingGeometry kTxRing{512, 2048, SIDE_MAX_GSO_FRAME};
inline constexpr RingGeometry kRxRing{512, 2048, SIDE_MAX_FRAME};

// Doorbell bits of the supervisor's word.
inline constexpr uint32_t kBellEvents = 1, kBellDevice = 2, kBellRx = 4;
// A line of irq_pending that is no device's: the supervisor's heartbeat, which vCPU 1 takes (clears) with the
// interrupt lines at the start of each round and otherwise ignores.
inline constexpr uint32_t kIrqHeartbeat = 63;
// Doorbell bits of the softirq word (vCPU 1).
inline constexpr uint32_t kBellTx = 1, kBellIrq = 2;

// A device register a domain reads from a copy the supervisor keeps current, without a crossing (the device
// model's choice, pci::PciDevice::register_shadows(): a read without side effects), once the writes posted before
// the read have been carried out (`served`). The key names (device, BAR, offset) and says what the entry is
// (kShadowCopy: `value` is a copy of the register; kShadowInert: its writes change no copy's value but its own,
// which the supervisor alone makes use of; kShadowPrivate: a copy whose writes nothing but a read of it can see, so
// a read of another copy need not wait for them); 0 marks an unused entry. The value is written before the key.
// Only the supervisor writes these; a domain that writes them fools only itself.
struct RegisterShadow {
  std::atomic<uint32_t> key;
  std::atomic<uint32_t> value;
};
inline constexpr unsigned kRegisterShadows = 16;
inline constexpr uint32_t kShadowUsed = 1u << 31, kShadowInert = 1u << 30, kShadowCopy = 1u << 29;
inline constexpr uint32_t kShadowPrivate = 1u << 28;
inline constexpr uint32_t kShadowKinds = kShadowInert | kShadowCopy | kShadowPrivate;
// The key of a 4-byte register: 0 if it cannot be named (device 8 and up, a BAR offset of 2 MiB and up).
inline uint32_t shadow_key(uint32_t dev, int bar, uint64_t offset) {
  if (dev >= 8 || bar < 0 || bar >= 6 || offset >= (1u << 21)) return 0;
  return kShadowUsed | (dev << 24) | (static_cast<uint32_t>(bar) << 21) | static_cast<uint32_t>(offset);
}

struct ChannelHeader {
  uint32_t magic;
  uint32_t version;
  uint64_t total_size;
  alignas(64) std::atomic<uint32_t> supervisor_bell;
  alignas(64) std::atomic<uint32_t> control_bell;
  alignas(64) std::atomic<uint32_t> softirq_bell;
  alignas(64) std::atomic<uint64_t> irq_pending;
  alignas(64) std::atomic<uint32_t> reply_bell[kChannelVcpus];
  // When each virtual CPU entered driver code (monotonic ns), 0 when it is not in it: the supervisor's watchdog
  // for hung entry points reads these.
  alignas(64) std::atomic<uint64_t> busy_since_ns[kChannelVcpus];
  // What the domain counted about itself (DomainCounter), published by it for reports and benchmarks only: a
  // hostile domain can write anything here, so nothing the supervisor decides depends on these.
  alignas(64) std::atomic<uint64_t> counters[8];
  alignas(64) RegisterShadow shadows[kRegisterShadows];
  // The cookie of the last device request of vCPU c's ring the supervisor carried out, published after its effects
  // (a posted write's included: the copies it changed are current). A vCPU's requests are served in the order it
  // made them, so every earlier request of that vCPU has taken effect too: a domain may read a copy without asking
  // once every write it posted before the read that the copy must wait for is behind these (domain::RemotePlatform).
  // The supervisor never reads them.
  alignas(64) std::atomic<uint64_t> served[kChannelVcpus];
};

enum DomainCounter : unsigned {
  kCounterIrqsDelivered,
  kCounterIrqsHandled,
  kCounterTraps,            // device accesses emulated in a trap handler
  kCounterPatchedAccesses,  // device accesses through rewritten sites (trampolines)
  kCounterSitesPatched,
  kCounterSitesRefused,
  kCounterShadowReads,  // device reads answered from a register copy
};

// A view of the channel: the rings and doorbells at their offsets. Each side keeps its own Channel (the ring
// geometry lives in private memory, never read back from the shared pages).
class Channel {
 public:
  static size_t size_needed();

  Channel() = default;
  // `shared` is size_needed() bytes. `create` initialises the header and rings (supervisor side); otherwise the
  // header is checked (domain side): magic, version and size.
  static Result<Channel> attach(void* shared, size_t size, bool create);

  ChannelHeader& header() { return *h_; }
  Ring& control() { return control_; }
  Ring& events() { return events_; }
  Ring& device(unsigned cpu) { return device_[cpu]; }
  Ring& reply(unsigned cpu) { return reply_[cpu]; }
  Ring& tx() { return tx_; }
  Ring& rx() { return rx_; }

 private:
  ChannelHeader* h_ = nullptr;
  Ring control_, events_, tx_, rx_;
  Ring device_[kChannelVcpus], reply_[kChannelVcpus];
};

}  // namespace side::ipc
