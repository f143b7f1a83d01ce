// Emulation of a decoded device access against a register file and a bus.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "emulation/access.h"
#include "emulation/registers.h"

namespace side::emulation {

enum class Space : uint8_t {
  kMemory,  // the driver's address space: device windows, and for ins/outs the driver's ordinary buffer
  kPort,    // the 16-bit I/O port space
};

// Where emulated accesses go. An interface rather than std::function so that a signal handler can implement it
// without allocating. Values are passed in the low `width` bytes; read() must return a value that fits (extra high
// bits are discarded). A failure (an address outside any device, a device refusing the access) is returned as an
// error and ends the emulation; the caller treats it as a driver fault.
class Bus {
 public:
  virtual Result<uint64_t> read(Space space, uint64_t address, unsigned width) = 0;
  virtual Status write(Space space, uint64_t address, unsigned width, uint64_t value) = 0;

 protected:
  ~Bus() = default;
};

// The effective address of a memory kind's memory operand, using `regs` (RIP-relative operands are relative to
// regs.rip + access.length, the next instruction). For kStringIn it is the RDI destination and for kStringOut the RSI
// source of the next iteration. Meaningless for kPortIn/kPortOut (returns 0).
uint64_t effective_address(const Access& access, const Registers& regs);

// The port of a port kind: DX (low 16 bits) or the immediate.
uint16_t port_number(const Access& access, const Registers& regs);

// How many iterations emulate() performs at most for one REP string instruction. The rest is left for the next
// trap, exactly as hardware may stop a REP instruction between iterations (Intel SDM Vol. 2B, REP: RIP stays at the
// instruction while RCX != 0): a driver-controlled RCX cannot make one trap run for an unbounded time.
inline constexpr uint64_t kMaxStringIterationsPerTrap = 4096;

// Performs `access` on `bus`, updates `regs` (destination register, RFLAGS arithmetic flags for kAlu, RSI/RDI/RCX for
// string kinds) and advances regs.rip past the instruction (for REP string kinds only once RCX reaches 0). Requires
// regs.rip == access.rip. For every non-string kind, `regs` is left unchanged if the bus fails. String kinds are
// performed iteration by iteration and `regs` reflects the completed iterations, as after a fault on hardware.
Status emulate(const Access& access, Registers& regs, Bus& bus);

// The result and the new arithmetic flags (CF, PF, AF, ZF, SF, OF; Intel SDM Vol. 1, Appendix A, and the flag
// descriptions of each instruction in Vol. 2) of `a op b` at `width` bytes. For cmp and test the result is that of sub
// and and. AF is undefined after and/or/xor/test (SDM Vol. 2); it is returned as 0.
struct AluResult {
  uint64_t value;
  uint64_t flags;  // only kArithmeticFlags bits
};
AluResult compute_alu(AluOp op, uint64_t a, uint64_t b, unsigned width);

}  // namespace side::emulation
