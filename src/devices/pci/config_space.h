// Configuration space of a conventional PCI type-0 function (256 bytes), as the PCI Local Bus Specification 3.0
// chapter 6 describes it. Every byte carries a writable mask and a write-1-to-clear mask, so the generic write path
// gives the hardware semantics for free: BAR sizing (write all-ones, read back the size mask), read-only ids,
// RW1C status bits. Accesses are of width 1, 2 or 4 at any offset; anything outside the 256 bytes, or of another
// width, reads all-ones and writes nothing. Driver input never aborts.
//
// Not thread-safe by itself: the owning device serializes access.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "common/result.h"

namespace side::pci {

inline constexpr uint16_t kConfigSpaceSize = 256;
inline constexpr int kNumBars = 6;

// Header offsets (PCI 3.0 section 6.1).
inline constexpr uint16_t kVendorId = 0x00;
inline constexpr uint16_t kDeviceId = 0x02;
inline constexpr uint16_t kCommand = 0x04;
inline constexpr uint16_t kStatus = 0x06;
inline constexpr uint16_t kRevisionId = 0x08;
inline constexpr uint16_t kClassProgIf = 0x09;
inline constexpr uint16_t kCacheLineSize = 0x0c;
inline constexpr uint16_t kLatencyTimer = 0x0d;
inline constexpr uint16_t kHeaderType = 0x0e;
inline constexpr uint16_t kBar0 = 0x10;
inline constexpr uint16_t kSubsystemVendorId = 0x2c;
inline constexpr uint16_t kSubsystemId = 0x2e;
inline constexpr uint16_t kExpansionRom = 0x30;
inline constexpr uint16_t kCapabilitiesPointer = 0x34;
inline constexpr uint16_t kInterruptLine = 0x3c;
inline constexpr uint16_t kInterruptPin = 0x3d;

// Command register bits (section 6.2.2).
inline constexpr uint16_t kCommandIo = 1u << 0;
inline constexpr uint16_t kCommandMemory = 1u << 1;
inline constexpr uint16_t kCommandBusMaster = 1u << 2;
inline constexpr uint16_t kCommandMwi = 1u << 4;
inline constexpr uint16_t kCommandParity = 1u << 6;
inline constexpr uint16_t kCommandSerr = 1u << 8;
inline constexpr uint16_t kCommandIntxDisable = 1u << 10;

// Status register bits (section 6.2.3).
inline constexpr uint16_t kStatusInterrupt = 1u << 3;
inline constexpr uint16_t kStatusCapList = 1u << 4;
inline constexpr uint16_t kStatusMasterDataParity = 1u << 8;
inline constexpr uint16_t kStatusSignaledTargetAbort = 1u << 11;
inline constexpr uint16_t kStatusReceivedTargetAbort = 1u << 12;
inline constexpr uint16_t kStatusReceivedMasterAbort = 1u << 13;
inline constexpr uint16_t kStatusSignaledSystemError = 1u << 14;
inline constexpr uint16_t kStatusDetectedParity = 1u << 15;
inline constexpr uint16_t kStatusRw1cMask = kStatusMasterDataParity | kStatusSignaledTargetAbort |
                                            kStatusReceivedTargetAbort | kStatusReceivedMasterAbort |
                                            kStatusSignaledSystemError | kStatusDetectedParity;

inline constexpr uint8_t kCapIdPowerManagement = 0x01;

enum class BarKind : uint8_t { kNone, kMemory32, kIo };

struct BarSpec {
  BarKind kind = BarKind::kNone;
  uint32_t size = 0;  // bytes, power of two; memory >= 16, I/O >= 4
  bool prefetchable = false;
};

struct Identity {
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t subsystem_vendor_id = 0;
  uint16_t subsystem_id = 0;
  uint8_t revision = 0;
  uint32_t class_code = 0;    // 24 bits: class, subclass, prog-if
  uint8_t interrupt_pin = 1;  // 1 = INTA#, 0 = none
};

class ConfigSpace {
 public:
  // BAR specs must be valid (power-of-two sizes); invalid ones are treated as absent and logged.
  ConfigSpace(const Identity& id, const std::array<BarSpec, kNumBars>& bars);

  // width is 1, 2 or 4. Out-of-range or odd widths read all-ones (of `width` bytes; 0xffffffff for bad widths).
  uint32_t read(uint32_t offset, unsigned width) const;
  void write(uint32_t offset, unsigned width, uint32_t value);

  // Appends a capability to the list (linked through the Capabilities Pointer). `body` excludes the two header
  // bytes (id, next); `writable` and `w1c` masks, if given, are as long as `body`. The offset must be dword
  // aligned, >= 0x40 and the capability must fit without overlapping an earlier one.
  Status add_capability(uint8_t offset, uint8_t cap_id, std::span<const uint8_t> body,
                        std::span<const uint8_t> writable = {}, std::span<const uint8_t> w1c = {});

  // Back to power-on values (command 0, BARs unassigned, status clear); capabilities keep their reset contents.
  void reset();

  uint16_t command() const { return static_cast<uint16_t>(read(kCommand, 2)); }
  const BarSpec& bar_spec(int bar) const { return bars_[bar]; }
  // The address the BAR is programmed with (flags stripped), whether or not decoding is enabled.
  uint32_t bar_address(int bar) const;
  // True if the BAR exists and the matching command-register decode bit is set.
  bool bar_decoding(int bar) const;
  // Finds which BAR (if decoding) covers `addr` in memory (is_io false) or I/O space; returns bar and offset.
  struct BarHit {
    int bar;
    uint32_t offset;
  };
  std::optional<BarHit> decode(bool is_io, uint64_t addr, unsigned width) const;

  // Device-side setting of status error bits (e.g. Signaled Target Abort); software clears them by writing 1.
  void set_status_bits(uint16_t bits);
  // Status bit 3 mirrors the device's INTx state (read-only to software).
  void set_interrupt_status(bool asserted);

 private:
  void poke8(uint32_t off, uint8_t v, uint8_t wmask = 0, uint8_t w1c = 0);
  void poke16(uint32_t off, uint16_t v, uint16_t wmask = 0, uint16_t w1c = 0);
  void poke32(uint32_t off, uint32_t v, uint32_t wmask = 0, uint32_t w1c = 0);
  void init_header();

  Identity id_;
  std::array<BarSpec, kNumBars> bars_;
  std::array<uint8_t, kConfigSpaceSize> bytes_{};
  std::array<uint8_t, kConfigSpaceSize> wmask_{};
  std::array<uint8_t, kConfigSpaceSize> w1c_{};
  // Capability reset images (offset, bytes) so reset() can restore them.
  std::array<uint8_t, kConfigSpaceSize> cap_reset_{};
  std::array<bool, kConfigSpaceSize> cap_used_{};
  uint8_t first_cap_ = 0;
  uint8_t last_cap_ = 0;
};

}  // namespace side::pci
