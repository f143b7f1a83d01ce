#include "devices/pci/config_space.h"

#include "common/log.h"

namespace side::pci {
namespace {

bool is_pow2(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

}  // namespace

ConfigSpace::ConfigSpace(const Identity& id, const std::array<BarSpec, kNumBars>& bars) : id_(id), bars_(bars) {
  for (int i = 0; i < kNumBars; ++i) {
    BarSpec& b = bars_[i];
    bool ok = b.kind == BarKind::kNone || (is_pow2(b.size) && ((b.kind == BarKind::kMemory32 && b.size >= 16) ||
                                                               (b.kind == BarKind::kIo && b.size >= 4)));
    if (!ok) {
      logf(LogLevel::kError, "side: pci: BAR%d spec invalid (size %u); treated as absent", i, b.size);
      b = BarSpec{};
    }
  }
  init_header();
}

void ConfigSpace::poke8(uint32_t off, uint8_t v, uint8_t wmask, uint8_t w1c) {
  bytes_[off] = v;
  wmask_[off] = wmask;
  w1c_[off] = w1c;
}
void ConfigSpace::poke16(uint32_t off, uint16_t v, uint16_t wmask, uint16_t w1c) {
  for (int i = 0; i < 2; ++i) poke8(off + i, v >> (8 * i), wmask >> (8 * i), w1c >> (8 * i));
}
void ConfigSpace::poke32(uint32_t off, uint32_t v, uint32_t wmask, uint32_t w1c) {
  for (int i = 0; i < 4; ++i) poke8(off + i, v >> (8 * i), wmask >> (8 * i), w1c >> (8 * i));
}

void ConfigSpace::init_header() {
  // Everything not set below is a read-only zero (reserved, cardbus CIS, BIST, expansion ROM: not implemented,
  // which a ROM BAR reading back zero after an all-ones write tells the OS).
  for (uint32_t i = 0; i < 0x40; ++i) poke8(i, 0);
  poke16(kVendorId, id_.vendor_id);
  poke16(kDeviceId, id_.device_id);
  poke16(kCommand, 0,
         kCommandIo | kCommandMemory | kCommandBusMaster | kCommandMwi | kCommandParity | kCommandSerr |
             kCommandIntxDisable);
  poke16(kStatus, last_cap_ ? kStatusCapList : 0, 0, kStatusRw1cMask);
  poke8(kRevisionId, id_.revision);
  poke8(kClassProgIf, id_.class_code & 0xff);
  poke16(kClassProgIf + 1, static_cast<uint16_t>(id_.class_code >> 8));
  poke8(kCacheLineSize, 0, 0xff);
  poke8(kLatencyTimer, 0, 0xff);
  poke8(kHeaderType, 0);  // type 0, single function
  for (int i = 0; i < kNumBars; ++i) {
    const BarSpec& b = bars_[i];
    uint32_t off = kBar0 + 4 * i;
    switch (b.kind) {
      case BarKind::kNone:
        poke32(off, 0);
        break;
      case BarKind::kMemory32:
        // Bits 3:0 are read-only type bits (32-bit, prefetchable flag); address bits below the size read zero.
        poke32(off, b.prefetchable ? 0x8 : 0x0, ~(b.size - 1) & ~0xfu);
        break;
      case BarKind::kIo:
        poke32(off, 0x1, ~(b.size - 1) & ~0x3u);
        break;
    }
  }
  poke16(kSubsystemVendorId, id_.subsystem_vendor_id);
  poke16(kSubsystemId, id_.subsystem_id);
  poke8(kCapabilitiesPointer, first_cap_);
  poke8(kInterruptLine, 0, 0xff);
  poke8(kInterruptPin, id_.interrupt_pin);
}

void ConfigSpace::reset() {
  init_header();
  for (uint32_t i = 0x40; i < kConfigSpaceSize; ++i) {
    if (cap_used_[i]) bytes_[i] = cap_reset_[i];
  }
}

uint32_t ConfigSpace::read(uint32_t offset, unsigned width) const {
  if (width != 1 && width != 2 && width != 4) return 0xffffffffu;
  if (offset >= kConfigSpaceSize || kConfigSpaceSize - offset < width) {
    return width == 4 ? 0xffffffffu : ((1u << (8 * width)) - 1);
  }
  uint32_t v = 0;
  for (unsigned i = 0; i < width; ++i) v |= static_cast<uint32_t>(bytes_[offset + i]) << (8 * i);
  return v;
}

void ConfigSpace::write(uint32_t offset, unsigned width, uint32_t value) {
  if (width != 1 && width != 2 && width != 4) return;
  if (offset >= kConfigSpaceSize || kConfigSpaceSize - offset < width) return;
  for (unsigned i = 0; i < width; ++i) {
    uint32_t off = offset + i;
    uint8_t v = static_cast<uint8_t>(value >> (8 * i));
    uint8_t b = static_cast<uint8_t>((bytes_[off] & ~wmask_[off]) | (v & wmask_[off]));
    b = static_cast<uint8_t>(b & ~(v & w1c_[off]));
    bytes_[off] = b;
  }
}

Status ConfigSpace::add_capability(uint8_t offset, uint8_t cap_id, std::span<const uint8_t> body,
                                   std::span<const uint8_t> writable, std::span<const uint8_t> w1c) {
  size_t total = body.size() + 2;
  if (offset < 0x40 || (offset & 3) != 0) return make_error("pci capability offset must be dword aligned >= 0x40");
  if (offset + total > kConfigSpaceSize) return make_error("pci capability does not fit in config space");
  if ((!writable.empty() && writable.size() != body.size()) || (!w1c.empty() && w1c.size() != body.size())) {
    return make_error("pci capability mask length differs from body");
  }
  for (size_t i = 0; i < total; ++i) {
    if (cap_used_[offset + i]) return make_error("pci capability overlaps an earlier one");
  }
  poke8(offset, cap_id);
  poke8(offset + 1, 0);
  cap_used_[offset] = cap_used_[offset + 1] = true;
  for (size_t i = 0; i < body.size(); ++i) {
    poke8(offset + 2 + i, body[i], writable.empty() ? 0 : writable[i], w1c.empty() ? 0 : w1c[i]);
    cap_used_[offset + 2 + i] = true;
  }
  if (last_cap_) {
    bytes_[last_cap_ + 1] = offset;
  } else {
    first_cap_ = offset;
    bytes_[kCapabilitiesPointer] = offset;
    bytes_[kStatus] |= kStatusCapList;
  }
  last_cap_ = offset;
  for (size_t i = 0; i < total; ++i) cap_reset_[offset + i] = bytes_[offset + i];
  return {};
}

uint32_t ConfigSpace::bar_address(int bar) const {
  if (bar < 0 || bar >= kNumBars) return 0;
  uint32_t raw = read(kBar0 + 4 * bar, 4);
  switch (bars_[bar].kind) {
    case BarKind::kMemory32:
      return raw & ~0xfu;
    case BarKind::kIo:
      return raw & ~0x3u;
    case BarKind::kNone:
      break;
  }
  return 0;
}

bool ConfigSpace::bar_decoding(int bar) const {
  if (bar < 0 || bar >= kNumBars) return false;
  switch (bars_[bar].kind) {
    case BarKind::kMemory32:
      return command() & kCommandMemory;
    case BarKind::kIo:
      return command() & kCommandIo;
    case BarKind::kNone:
      break;
  }
  return false;
}

std::optional<ConfigSpace::BarHit> ConfigSpace::decode(bool is_io, uint64_t addr, unsigned width) const {
  for (int i = 0; i < kNumBars; ++i) {
    const BarSpec& b = bars_[i];
    if (b.kind == BarKind::kNone || (b.kind == BarKind::kIo) != is_io || !bar_decoding(i)) continue;
    uint64_t base = bar_address(i);
    // An unassigned BAR (address 0) or one still holding the sizing pattern does not decode.
    if (base == 0 || base == (~static_cast<uint64_t>(b.size - 1) & 0xffffffffu)) continue;
    if (addr >= base && addr - base < b.size && b.size - (addr - base) >= width) {
      return BarHit{i, static_cast<uint32_t>(addr - base)};
    }
  }
  return std::nullopt;
}

void ConfigSpace::set_status_bits(uint16_t bits) {
  bits &= kStatusRw1cMask;
  bytes_[kStatus] |= static_cast<uint8_t>(bits);
  bytes_[kStatus + 1] |= static_cast<uint8_t>(bits >> 8);
}

void ConfigSpace::set_interrupt_status(bool asserted) {
  if (asserted) {
    bytes_[kStatus] |= kStatusInterrupt;
  } else {
    bytes_[kStatus] &= static_cast<uint8_t>(~kStatusInterrupt);
  }
}

}  // namespace side::pci
