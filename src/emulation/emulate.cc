#include "emulation/emulate.h"

#include <cinttypes>
#include <cstdio>

namespace side::emulation {
namespace {

uint64_t sign_bit(unsigned width) {
  return uint64_t{1} << (8 * width - 1);
}

uint64_t sign_extend(uint64_t v, unsigned from_width) {
  v &= width_mask(from_width);
  if (from_width < 8 && (v & sign_bit(from_width))) v |= ~width_mask(from_width);
  return v;
}

// PF is set when the low byte of the result has an even number of 1 bits (SDM Vol. 1, 3.4.3.1).
uint64_t parity_flag(uint64_t result) {
  return (__builtin_popcount(static_cast<unsigned>(result & 0xff)) & 1) ? 0 : kFlagPF;
}

uint64_t operand_value(const Operand& op, const Registers& regs) {
  return op.is_immediate ? op.immediate : read_gpr(regs, op.reg);
}

Error bus_error(const Access& a, const Error& e) {
  char head[64];
  std::snprintf(head, sizeof head, "emulating the access at %#" PRIx64 ": ", a.rip);
  return Error{head + e.message};
}

// Advances RSI or RDI by the element size in the direction of DF (SDM Vol. 2A "INS", Vol. 2B "OUTS").
void step_pointer(Registers& regs, unsigned index, unsigned width) {
  if (regs.rflags & kFlagDF) {
    regs.gpr[index] -= width;
  } else {
    regs.gpr[index] += width;
  }
}

constexpr unsigned kRcx = 1, kRdx = 2, kRsi = 6, kRdi = 7;

Status emulate_string(const Access& a, Registers& regs, Bus& bus) {
  const uint16_t port = port_number(a, regs);
  const unsigned ptr = a.kind == Kind::kStringIn ? kRdi : kRsi;
  uint64_t budget = kMaxStringIterationsPerTrap;
  // Without REP the instruction runs once; with REP it runs while RCX != 0, checking RCX first (SDM Vol. 2B, REP),
  // so `rep insb` with RCX == 0 transfers nothing.
  while (!a.rep || regs.gpr[kRcx] != 0) {
    if (budget-- == 0) return {};  // RIP stays: the instruction traps again and continues (see emulate.h)
    if (a.kind == Kind::kStringIn) {
      auto v = bus.read(Space::kPort, port, a.width);
      if (!v) return bus_error(a, v.error());
      Status s = bus.write(Space::kMemory, regs.gpr[kRdi], a.width, *v & width_mask(a.width));
      if (!s) return bus_error(a, s.error());
    } else {
      auto v = bus.read(Space::kMemory, regs.gpr[kRsi], a.width);
      if (!v) return bus_error(a, v.error());
      Status s = bus.write(Space::kPort, port, a.width, *v & width_mask(a.width));
      if (!s) return bus_error(a, s.error());
    }
    step_pointer(regs, ptr, a.width);
    if (!a.rep) break;
    --regs.gpr[kRcx];
  }
  regs.rip += a.length;
  return {};
}

}  // namespace

AluResult compute_alu(AluOp op, uint64_t a, uint64_t b, unsigned width) {
  const uint64_t mask = width_mask(width);
  const uint64_t sign = sign_bit(width);
  a &= mask;
  b &= mask;
  uint64_t r = 0;
  uint64_t flags = 0;
  switch (op) {
    case AluOp::kAdd:
      r = (a + b) & mask;
      if (r < a) flags |= kFlagCF;                      // unsigned carry out of the top bit
      if (~(a ^ b) & (a ^ r) & sign) flags |= kFlagOF;  // same-sign operands, different-sign result
      if ((a ^ b ^ r) & 0x10) flags |= kFlagAF;         // carry out of bit 3
      break;
    case AluOp::kSub:
    case AluOp::kCmp:
      r = (a - b) & mask;
      if (a < b) flags |= kFlagCF;                     // borrow
      if ((a ^ b) & (a ^ r) & sign) flags |= kFlagOF;  // different-sign operands, result sign differs from a
      if ((a ^ b ^ r) & 0x10) flags |= kFlagAF;        // borrow into bit 3
      break;
    case AluOp::kAnd:
    case AluOp::kTest:
      r = a & b;  // CF = OF = 0 (SDM Vol. 2A "AND", Vol. 2B "TEST")
      break;
    case AluOp::kOr:
      r = a | b;
      break;
    case AluOp::kXor:
      r = a ^ b;
      break;
  }
  if (r == 0) flags |= kFlagZF;
  if (r & sign) flags |= kFlagSF;
  flags |= parity_flag(r);
  return {r, flags};
}

uint64_t effective_address(const Access& a, const Registers& regs) {
  switch (a.kind) {
    case Kind::kPortIn:
    case Kind::kPortOut:
      return 0;
    case Kind::kStringIn:
      return regs.gpr[kRdi];
    case Kind::kStringOut:
      return regs.gpr[kRsi];
    default:
      break;
  }
  const MemoryOperand& m = a.memory;
  uint64_t ea = static_cast<uint64_t>(m.displacement);
  if (m.base == MemoryOperand::kRip) {
    ea += regs.rip + a.length;
  } else if (m.base < 16) {
    ea += regs.gpr[m.base];
  }
  if (m.index < 16) ea += regs.gpr[m.index] * m.scale;
  // With a 67h prefix the computation is done in 32 bits (SDM Vol. 1, 3.3.7): truncating the 64-bit sum is the same.
  if (m.address_width == 4) ea &= 0xffffffffu;
  return ea;
}

uint16_t port_number(const Access& a, const Registers& regs) {
  return a.port_in_dx ? static_cast<uint16_t>(regs.gpr[kRdx]) : a.port;
}

namespace {

// A read-modify-write (or compare) of device memory with a register or immediate.
Status emulate_alu(const Access& a, const Registers& regs, Registers& next, Bus& bus) {
  const unsigned w = a.width;
  const uint64_t mask = width_mask(w);
  const uint64_t address = effective_address(a, regs);
  auto v = bus.read(Space::kMemory, address, w);
  if (!v) return bus_error(a, v.error());
  const uint64_t mem = *v & mask;
  const uint64_t other = operand_value(a.src, regs) & mask;
  AluResult r = a.memory_first ? compute_alu(a.alu, mem, other, w) : compute_alu(a.alu, other, mem, w);
  next.rflags = (regs.rflags & ~kArithmeticFlags) | r.flags;
  if (a.alu == AluOp::kCmp || a.alu == AluOp::kTest) return {};
  if (!a.memory_first) {
    write_gpr(next, a.dst, r.value);
    return {};
  }
  Status s = bus.write(Space::kMemory, address, w, r.value);
  return s ? Status{} : bus_error(a, s.error());
}

// XCHG with memory is implicitly locked on hardware (SDM Vol. 2B "XCHG"); the device model serializes accesses, so
// read-then-write is equivalent.
Status emulate_exchange(const Access& a, const Registers& regs, Registers& next, Bus& bus) {
  const uint64_t mask = width_mask(a.width);
  const uint64_t address = effective_address(a, regs);
  auto v = bus.read(Space::kMemory, address, a.width);
  if (!v) return bus_error(a, v.error());
  Status s = bus.write(Space::kMemory, address, a.width, read_gpr(regs, a.src.reg) & mask);
  if (!s) return bus_error(a, s.error());
  write_gpr(next, a.dst, *v & mask);
  return {};
}

// A read (load or port in) into the destination register.
Status emulate_read(const Access& a, const Registers& regs, Registers& next, Bus& bus) {
  const bool port = a.kind == Kind::kPortIn;
  auto v =
      bus.read(port ? Space::kPort : Space::kMemory, port ? port_number(a, regs) : effective_address(a, regs), a.width);
  if (!v) return bus_error(a, v.error());
  const uint64_t value = a.extend == Extend::kSign && !port ? sign_extend(*v, a.width) : (*v & width_mask(a.width));
  write_gpr(next, a.dst, value);
  return {};
}

// A write (store or port out) of the source operand.
Status emulate_write(const Access& a, const Registers& regs, Bus& bus) {
  const bool port = a.kind == Kind::kPortOut;
  const uint64_t value = (port ? read_gpr(regs, a.src.reg) : operand_value(a.src, regs)) & width_mask(a.width);
  Status s = port ? bus.write(Space::kPort, port_number(a, regs), a.width, value)
                  : bus.write(Space::kMemory, effective_address(a, regs), a.width, value);
  return s ? Status{} : bus_error(a, s.error());
}

}  // namespace

Status emulate(const Access& a, Registers& regs, Bus& bus) {
  if (regs.rip != a.rip) {
    char msg[128];
    std::snprintf(msg, sizeof msg, "access decoded at %#" PRIx64 " emulated at rip %#" PRIx64, a.rip, regs.rip);
    return Error{msg};
  }
  if (a.is_string()) return emulate_string(a, regs, bus);
  // Everything else computes the new register state in a copy and commits it only once the bus has succeeded.
  Registers next = regs;
  Status done;
  switch (a.kind) {
    case Kind::kLoad:
    case Kind::kPortIn:
      done = emulate_read(a, regs, next, bus);
      break;
    case Kind::kStore:
    case Kind::kPortOut:
      done = emulate_write(a, regs, bus);
      break;
    case Kind::kAlu:
      done = emulate_alu(a, regs, next, bus);
      break;
    case Kind::kExchange:
      done = emulate_exchange(a, regs, next, bus);
      break;
    case Kind::kStringIn:
    case Kind::kStringOut:
      break;  // handled above
  }
  if (!done) return done;
  next.rip += a.length;
  regs = next;
  return {};
}

}  // namespace side::emulation
