// The register state an emulated instruction reads and writes, independent of signal frames so the emulator can be
// tested without trapping (ucontext.h converts to and from a signal's mcontext_t).
#pragma once

#include <array>
#include <cstdint>

#include "emulation/access.h"

namespace side::emulation {

struct Registers {
  std::array<uint64_t, 16> gpr{};  // hardware encoding order, see Gpr
  uint64_t rip = 0;
  uint64_t rflags = 0;

  friend bool operator==(const Registers&, const Registers&) = default;
};

// RFLAGS bits (Intel SDM Vol. 1, 3.4.3).
inline constexpr uint64_t kFlagCF = 1u << 0;
inline constexpr uint64_t kFlagPF = 1u << 2;
inline constexpr uint64_t kFlagAF = 1u << 4;
inline constexpr uint64_t kFlagZF = 1u << 6;
inline constexpr uint64_t kFlagSF = 1u << 7;
inline constexpr uint64_t kFlagDF = 1u << 10;
inline constexpr uint64_t kFlagOF = 1u << 11;
inline constexpr uint64_t kArithmeticFlags = kFlagCF | kFlagPF | kFlagAF | kFlagZF | kFlagSF | kFlagOF;

// All ones in the low `width` bytes.
constexpr uint64_t width_mask(unsigned width) {
  return width >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * width)) - 1;
}

// The value of a register operand, zero-extended from its width.
inline uint64_t read_gpr(const Registers& regs, Gpr r) {
  uint64_t full = regs.gpr[r.index & 15];
  if (r.high_byte) return (full >> 8) & 0xff;
  return full & width_mask(r.width);
}

// Writes `value` (its low r.width bytes) to a register operand with the x86-64 rule (Intel SDM Vol. 1, 3.4.1.1):
// a 32-bit destination zero-extends into the full 64-bit register, while 8- and 16-bit destinations (including
// AH/CH/DH/BH) leave the other bits unchanged.
inline void write_gpr(Registers& regs, Gpr r, uint64_t value) {
  uint64_t& full = regs.gpr[r.index & 15];
  if (r.high_byte) {
    full = (full & ~uint64_t{0xff00}) | ((value & 0xff) << 8);
  } else if (r.width == 4) {
    full = value & 0xffffffffu;
  } else if (r.width >= 8) {
    full = value;
  } else {
    uint64_t mask = width_mask(r.width);
    full = (full & ~mask) | (value & mask);
  }
}

}  // namespace side::emulation
