// What a network device model offers the host side, whatever the device: frames in and out, the link, its MAC
// address and the counters every NIC keeps. The wire (a TAP or a capture), the built-in traffic peer and the host
// interface use only this, so a new NIC model (in this process or served by another one) plugs in beside the
// e1000 without any of them changing.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

namespace side::net {

// What became of a frame offered to the device's receiver.
enum class RxResult : uint8_t {
  kAccepted,
  kDroppedLinkDown,
  kDroppedDisabled,       // the receiver is off
  kDroppedFiltered,       // address / VLAN filters rejected it
  kDroppedSize,           // runt (< 14 bytes) or longer than the device accepts
  kDroppedNoDescriptors,  // overrun: the driver gave the device no buffer for it
  kDroppedBadRing,        // the driver's ring registers are inconsistent
  kDroppedIommuFault,     // a descriptor or buffer was not mapped for device access
};
const char* to_string(RxResult r);

// Counters a NIC model keeps, under names that mean the same for every model (the model's own, finer counters
// stay with it).
struct NicCounters {
  uint64_t tx_frames = 0;  // frames handed to the frame sink (TSO segments count individually)
  // Packets the driver handed over that the device has finished with (a TSO packet once, sent or dropped): what
  // recovery compares with the packets it submitted to know how many never reached the device.
  uint64_t tx_packets = 0;
  uint64_t tx_bytes = 0;
  uint64_t rx_frames = 0;  // frames written into the driver's buffers
  uint64_t rx_bytes = 0;
  uint64_t rx_dropped = 0;  // offered but not received, whatever the reason
  uint64_t rx_dropped_no_descriptors = 0;
  uint64_t iommu_faults = 0;    // DMA the IOMMU refused
  uint64_t irq_assertions = 0;  // rising edges of the interrupt request
  uint64_t irq_throttled = 0;   // assertions the device deferred (interrupt moderation)
};

// Where the driver placed the device's receive descriptor ring, in the device's DMA (IOVA) space: what the fault
// campaign corrupts to play a driver that programs bad buffer addresses.
struct DescriptorRing {
  uint64_t iova = 0;
  uint64_t bytes = 0;
  uint32_t stride = 0;          // bytes per descriptor
  uint32_t address_offset = 0;  // where in a descriptor the 64-bit little-endian buffer address sits
};

// Frames the device transmits (no FCS). Runs on whichever thread made the device transmit, without the device's
// lock held: it may call receive() (loopback).
using FrameSink = std::function<void(std::span<const uint8_t> frame)>;

class Nic {
 public:
  virtual ~Nic() = default;

  // A frame arriving from the wire (no FCS). Thread-safe against the driver's register accesses.
  virtual RxResult receive(std::span<const uint8_t> frame) = 0;
  // Where transmitted frames go; nullptr drops them. Set before the driver enables the transmitter.
  virtual void set_frame_sink(FrameSink sink) = 0;
  // Carrier of the cable: the driver sees a link change as the hardware reports it.
  virtual void set_link(bool up) = 0;
  virtual bool link_up() const = 0;
  // The address the device was built with (its EEPROM or equivalent), not what the driver may have set since.
  virtual std::array<uint8_t, 6> mac() const = 0;
  virtual NicCounters nic_counters() const = 0;
  // The receive ring as the driver programmed it; empty while there is none or the model does not say.
  virtual std::optional<DescriptorRing> rx_ring() const { return std::nullopt; }
  // With `hold`: the driver is gone (a restart: from the moment its domain is marked failed) until the next one
  // enables its receiver; frames that arrive meanwhile are kept, up to a bound, through the device's reset, and
  // received in order once it has, instead of being dropped as a disabled receiver (or a dead driver's ring) would
  // drop them. Without (the restart is over, or recovery gave up): if no driver has taken the receiver, what is held
  // is discarded and the device drops again what a disabled receiver drops; else the rest is received as the new
  // driver gives descriptors. Nothing by default.
  virtual void hold_received_frames(bool /*hold*/) {}
};

}  // namespace side::net
