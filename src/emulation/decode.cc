// Reduces Zydis' decoding of a trapped instruction to an Access. Zydis does all the x86 decoding (prefixes, REX,
// ModRM/SIB, immediates, operand sizes); this file only checks that the result is a shape side can emulate exactly.
#include <Zydis/Zydis.h>

#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <optional>

#include "emulation/access.h"
#include "emulation/registers.h"

namespace side::emulation {
namespace {

struct Decoded {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

ZyanStatus decode_raw(std::span<const uint8_t> code, Decoded& d) {
  ZydisDecoder decoder;
  ZyanStatus status = ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  if (!ZYAN_SUCCESS(status)) return status;
  return ZydisDecoderDecodeFull(&decoder, code.data(), code.size(), &d.insn, d.ops);
}

std::string format(const Decoded& d, uint64_t rip) {
  ZydisFormatter formatter;
  char buf[256];
  if (!ZYAN_SUCCESS(ZydisFormatterInit(&formatter, ZYDIS_FORMATTER_STYLE_ATT)) ||
      !ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&formatter, &d.insn, d.ops, d.insn.operand_count_visible, buf,
                                                    sizeof buf, rip, nullptr))) {
    return "(unformattable)";
  }
  return buf;
}

std::string hex_bytes(std::span<const uint8_t> code) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < code.size() && i < kMaxInstructionLength; ++i) {
    std::snprintf(b, sizeof b, i ? " %02x" : "%02x", code[i]);
    s += b;
  }
  return s;
}

// Builds the error for a decoded but unsupported instruction: "cannot emulate `incl (%rax)` at 0x...: <why>".
class Refuser {
 public:
  Refuser(const Decoded& d, uint64_t rip) : d_(d), rip_(rip) {}
  Error operator()(const char* fmt, ...) const __attribute__((format(printf, 2, 3))) {
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    char head[64];
    std::snprintf(head, sizeof head, "` at %#" PRIx64 ": ", rip_);
    return Error{"cannot emulate `" + format(d_, rip_) + head + why};
  }

 private:
  const Decoded& d_;
  uint64_t rip_;
};

bool is_memory(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_MEMORY;
}
bool is_register(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_REGISTER;
}
bool is_immediate(const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
}

bool is_gpr(ZydisRegister r) {
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_GPR8:
    case ZYDIS_REGCLASS_GPR16:
    case ZYDIS_REGCLASS_GPR32:
    case ZYDIS_REGCLASS_GPR64:
      return true;
    default:
      return false;
  }
}

// Zydis names registers; Gpr uses the hardware number of the enclosing 64-bit register. AH/CH/DH/BH are only
// encodable without REX, where register numbers 4..7 mean them instead of SPL/BPL/SIL/DIL (SDM Vol. 2A, 3.1.1.1,
// Table 3-1 note); Zydis has already resolved that, so the register name is authoritative.
bool to_gpr(ZydisRegister r, Gpr& out) {
  if (!is_gpr(r)) return false;
  ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
  ZyanI8 id = ZydisRegisterGetId(full);
  if (id < 0 || id > 15) return false;
  out.index = static_cast<uint8_t>(id);
  out.width = static_cast<uint8_t>(ZydisRegisterGetWidth(ZYDIS_MACHINE_MODE_LONG_64, r) / 8);
  out.high_byte = r == ZYDIS_REGISTER_AH || r == ZYDIS_REGISTER_CH || r == ZYDIS_REGISTER_DH || r == ZYDIS_REGISTER_BH;
  return true;
}

bool valid_width(unsigned w) {
  return w == 1 || w == 2 || w == 4 || w == 8;
}

Result<MemoryOperand> to_memory(const ZydisDecodedOperand& op, const Decoded& d, const Refuser& refuse) {
  if (op.mem.type != ZYDIS_MEMOP_TYPE_MEM) return refuse("the memory operand is not an ordinary data access");
  // FS and GS are the only segments with a base in 64-bit mode (SDM Vol. 1, 3.3.7.1); side has no way to learn the
  // driver's FS/GS base from the fault, and kernel code never addresses device memory through them. CS/DS/ES/SS
  // overrides are architecturally null and accepted.
  if (op.mem.segment == ZYDIS_REGISTER_FS || op.mem.segment == ZYDIS_REGISTER_GS) {
    return refuse("%%fs/%%gs segment overrides are not supported");
  }
  MemoryOperand m;
  m.address_width = static_cast<uint8_t>(d.insn.address_width / 8);
  if (m.address_width != 8 && m.address_width != 4) return refuse("unsupported address size");
  Gpr g;
  if (op.mem.base == ZYDIS_REGISTER_RIP || op.mem.base == ZYDIS_REGISTER_EIP) {
    m.base = MemoryOperand::kRip;
  } else if (op.mem.base != ZYDIS_REGISTER_NONE) {
    if (!to_gpr(op.mem.base, g)) return refuse("unsupported base register");
    m.base = g.index;
  }
  if (op.mem.index != ZYDIS_REGISTER_NONE) {
    if (!to_gpr(op.mem.index, g)) return refuse("unsupported index register");
    m.index = g.index;
    m.scale = op.mem.scale ? op.mem.scale : 1;
  }
  m.displacement = op.mem.disp.has_displacement ? op.mem.disp.value : 0;
  return m;
}

Result<Operand> to_source(const ZydisDecodedOperand& op, unsigned width, const Refuser& refuse) {
  Operand s;
  if (is_immediate(op)) {
    // Zydis has already sign-extended signed immediates to 64 bits (e.g. the imm32 of `movq $imm, m64` and the imm8
    // of opcode 83, SDM Vol. 2A, 2.2.1.5); what reaches the device is that value at the operand width.
    s.is_immediate = true;
    s.immediate = op.imm.value.u & width_mask(width);
    return s;
  }
  if (is_register(op) && to_gpr(op.reg.value, s.reg)) return s;
  return refuse("the non-memory operand is not a general-purpose register or an immediate");
}

bool has_prefix(const Decoded& d, uint8_t value) {
  for (unsigned i = 0; i < d.insn.raw.prefix_count; ++i) {
    if (d.insn.raw.prefixes[i].value == value) return true;
  }
  return false;
}

Result<Access> decode_memory_move(const Decoded& d, Access a, const Refuser& refuse) {
  const ZydisDecodedOperand& op0 = d.ops[0];
  const ZydisDecodedOperand& op1 = d.ops[1];
  if (is_memory(op0)) {
    a.kind = Kind::kStore;
    auto m = to_memory(op0, d, refuse);
    if (!m) return m.error();
    a.memory = *m;
    auto s = to_source(op1, op0.size / 8, refuse);
    if (!s) return s.error();
    a.src = *s;
    a.width = static_cast<uint8_t>(op0.size / 8);
  } else if (is_memory(op1)) {
    a.kind = Kind::kLoad;
    if (!is_register(op0) || !to_gpr(op0.reg.value, a.dst)) {
      return refuse("the destination is not a general-purpose register");
    }
    auto m = to_memory(op1, d, refuse);
    if (!m) return m.error();
    a.memory = *m;
    a.width = static_cast<uint8_t>(op1.size / 8);
    switch (d.insn.mnemonic) {
      case ZYDIS_MNEMONIC_MOVZX:
        a.extend = Extend::kZero;
        break;
      case ZYDIS_MNEMONIC_MOVSX:
      case ZYDIS_MNEMONIC_MOVSXD:
        a.extend = Extend::kSign;
        break;
      default:
        a.extend = Extend::kNone;
        break;
    }
    if (a.dst.width < a.width) return refuse("the destination is narrower than the access");
    if (a.extend == Extend::kNone && a.dst.width != a.width) return refuse("operand widths differ");
  } else {
    return refuse("the instruction neither accesses memory nor performs port I/O");
  }
  if (!valid_width(a.width)) return refuse("unsupported access width of %u bytes", a.width);
  return a;
}

Result<Access> decode_alu(const Decoded& d, Access a, AluOp op, const Refuser& refuse) {
  a.kind = Kind::kAlu;
  a.alu = op;
  const ZydisDecodedOperand& op0 = d.ops[0];
  const ZydisDecodedOperand& op1 = d.ops[1];
  const ZydisDecodedOperand* mem;
  const ZydisDecodedOperand* other;
  if (is_memory(op0)) {
    mem = &op0, other = &op1;
    a.memory_first = true;
  } else if (is_memory(op1)) {
    mem = &op1, other = &op0;
    a.memory_first = false;
  } else {
    return refuse("the instruction neither accesses memory nor performs port I/O");
  }
  auto m = to_memory(*mem, d, refuse);
  if (!m) return m.error();
  a.memory = *m;
  auto s = to_source(*other, mem->size / 8, refuse);
  if (!s) return s.error();
  a.src = *s;
  if (!a.memory_first) {
    if (a.src.is_immediate) return refuse("unexpected operand order");
    a.dst = a.src.reg;
  }
  a.width = static_cast<uint8_t>(mem->size / 8);
  if (!valid_width(a.width)) return refuse("unsupported access width of %u bytes", a.width);
  if (!a.src.is_immediate && a.src.reg.width != a.width) return refuse("operand widths differ");
  return a;
}

Result<Access> decode_exchange(const Decoded& d, Access a, const Refuser& refuse) {
  a.kind = Kind::kExchange;
  const ZydisDecodedOperand* mem = is_memory(d.ops[0]) ? &d.ops[0] : is_memory(d.ops[1]) ? &d.ops[1] : nullptr;
  const ZydisDecodedOperand* reg = mem == &d.ops[0] ? &d.ops[1] : &d.ops[0];
  if (!mem) return refuse("the instruction neither accesses memory nor performs port I/O");
  auto m = to_memory(*mem, d, refuse);
  if (!m) return m.error();
  a.memory = *m;
  if (!is_register(*reg) || !to_gpr(reg->reg.value, a.src.reg)) return refuse("unsupported register operand");
  a.dst = a.src.reg;
  a.width = static_cast<uint8_t>(mem->size / 8);
  if (!valid_width(a.width) || a.dst.width != a.width) return refuse("unsupported access width");
  return a;
}

// IN/OUT (SDM Vol. 2A "IN", Vol. 2B "OUT"): the port is imm8 (zero-extended) or DX; the data register is AL, AX or
// EAX, which Zydis reports as an operand.
Result<Access> decode_port(const Decoded& d, Access a, bool in, const Refuser& refuse) {
  a.kind = in ? Kind::kPortIn : Kind::kPortOut;
  const ZydisDecodedOperand& data = in ? d.ops[0] : d.ops[1];
  const ZydisDecodedOperand& port = in ? d.ops[1] : d.ops[0];
  Gpr g;
  if (!is_register(data) || !to_gpr(data.reg.value, g) || g.index != 0 || g.high_byte) {
    return refuse("unexpected data operand");
  }
  a.width = g.width;
  if (in) {
    a.dst = g;
  } else {
    a.src.reg = g;
  }
  if (is_immediate(port)) {
    a.port = static_cast<uint16_t>(port.imm.value.u & 0xff);
  } else if (is_register(port) && port.reg.value == ZYDIS_REGISTER_DX) {
    a.port_in_dx = true;
  } else {
    return refuse("unexpected port operand");
  }
  if (a.width != 1 && a.width != 2 && a.width != 4) return refuse("unsupported port width");
  return a;
}

// INS/OUTS (SDM Vol. 2A "INS", Vol. 2B "OUTS"): port DX, memory ES:[RDI] or DS:[RSI], optionally REP.
Result<Access> decode_string(const Decoded& d, Access a, bool in, const Refuser& refuse) {
  a.kind = in ? Kind::kStringIn : Kind::kStringOut;
  a.port_in_dx = true;
  a.width = static_cast<uint8_t>(d.insn.operand_width / 8);
  if (a.width != 1 && a.width != 2 && a.width != 4) return refuse("unsupported port width");
  if (d.insn.address_width != 64) return refuse("string port I/O with a 32-bit address size is not supported");
  if (has_prefix(d, 0xf2)) return refuse("REPNE on string port I/O is undefined");
  if (d.insn.attributes & ZYDIS_ATTRIB_HAS_SEGMENT) {
    if (d.insn.attributes & (ZYDIS_ATTRIB_HAS_SEGMENT_FS | ZYDIS_ATTRIB_HAS_SEGMENT_GS)) {
      return refuse("%%fs/%%gs segment overrides are not supported");
    }
  }
  a.rep = (d.insn.attributes & ZYDIS_ATTRIB_HAS_REP) != 0;
  a.memory.base = in ? 7 : 6;  // RDI or RSI: informational, effective_address() follows the kind
  return a;
}

// Vector and x87 state is not part of Registers and the kernel is built with -mno-sse -mno-mmx -mno-80387, so any
// such instruction touching a device is a bug (or hostile) rather than something to emulate.
bool uses_vector_state(const Decoded& d) {
  constexpr ZydisInstructionAttributes kVectorEncodings =
      ZYDIS_ATTRIB_HAS_VEX | ZYDIS_ATTRIB_HAS_EVEX | ZYDIS_ATTRIB_HAS_XOP | ZYDIS_ATTRIB_HAS_MVEX;
  constexpr ZydisInstructionAttributes kVectorState =
      ZYDIS_ATTRIB_FPU_STATE_CR | ZYDIS_ATTRIB_FPU_STATE_CW | ZYDIS_ATTRIB_XMM_STATE_CR | ZYDIS_ATTRIB_XMM_STATE_CW;
  bool vector = (d.insn.attributes & (kVectorEncodings | kVectorState)) != 0;
  for (unsigned i = 0; i < d.insn.operand_count; ++i) {
    if (!is_register(d.ops[i])) continue;
    switch (ZydisRegisterGetClass(d.ops[i].reg.value)) {
      case ZYDIS_REGCLASS_X87:
      case ZYDIS_REGCLASS_MMX:
      case ZYDIS_REGCLASS_XMM:
      case ZYDIS_REGCLASS_YMM:
      case ZYDIS_REGCLASS_ZMM:
      case ZYDIS_REGCLASS_TMM:
      case ZYDIS_REGCLASS_MASK:
        vector = true;
        break;
      default:
        break;
    }
  }
  return vector;
}

// The instruction's access by mnemonic; nullopt for a mnemonic side does not emulate.
std::optional<Result<Access>> decode_by_mnemonic(const Decoded& d, Access& a, const Refuser& refuse) {
  switch (d.insn.mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_MOVZX:
    case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD:
    case ZYDIS_MNEMONIC_MOVNTI:
      return decode_memory_move(d, a, refuse);
    case ZYDIS_MNEMONIC_ADD:
      return decode_alu(d, a, AluOp::kAdd, refuse);
    case ZYDIS_MNEMONIC_SUB:
      return decode_alu(d, a, AluOp::kSub, refuse);
    case ZYDIS_MNEMONIC_AND:
      return decode_alu(d, a, AluOp::kAnd, refuse);
    case ZYDIS_MNEMONIC_OR:
      return decode_alu(d, a, AluOp::kOr, refuse);
    case ZYDIS_MNEMONIC_XOR:
      return decode_alu(d, a, AluOp::kXor, refuse);
    case ZYDIS_MNEMONIC_CMP:
      return decode_alu(d, a, AluOp::kCmp, refuse);
    case ZYDIS_MNEMONIC_TEST:
      return decode_alu(d, a, AluOp::kTest, refuse);
    case ZYDIS_MNEMONIC_XCHG:
      return decode_exchange(d, a, refuse);
    case ZYDIS_MNEMONIC_IN:
      return decode_port(d, a, true, refuse);
    case ZYDIS_MNEMONIC_OUT:
      return decode_port(d, a, false, refuse);
    case ZYDIS_MNEMONIC_INSB:
    case ZYDIS_MNEMONIC_INSW:
    case ZYDIS_MNEMONIC_INSD:
      return decode_string(d, a, true, refuse);
    case ZYDIS_MNEMONIC_OUTSB:
    case ZYDIS_MNEMONIC_OUTSW:
    case ZYDIS_MNEMONIC_OUTSD:
      return decode_string(d, a, false, refuse);
    default:
      return std::nullopt;
  }
}

}  // namespace

std::string disassemble(std::span<const uint8_t> code, uint64_t rip) {
  Decoded d;
  if (!ZYAN_SUCCESS(decode_raw(code, d))) return "(bad)";
  return format(d, rip);
}

Result<Access> decode_access(std::span<const uint8_t> code, uint64_t rip) {
  Decoded d;
  ZyanStatus status = decode_raw(code, d);
  if (!ZYAN_SUCCESS(status)) {
    char head[96];
    std::snprintf(head, sizeof head, "cannot decode the instruction at %#" PRIx64 " (", rip);
    const char* why = status == ZYDIS_STATUS_NO_MORE_DATA ? "truncated" : "invalid";
    return Error{head + hex_bytes(code) + "): " + why};
  }
  Refuser refuse(d, rip);
  if (uses_vector_state(d)) {
    return refuse("SSE/AVX/MMX/x87 accesses to device memory are not supported (kernel code has none)");
  }
  Access a;
  a.length = d.insn.length;
  a.rip = rip;
  if (auto decoded = decode_by_mnemonic(d, a, refuse)) return std::move(*decoded);
  for (unsigned i = 0; i < d.insn.operand_count; ++i) {
    if (is_memory(d.ops[i]) && d.ops[i].mem.type == ZYDIS_MEMOP_TYPE_MEM) {
      return refuse(
          "unsupported instruction for device memory (only mov, movzx, movsx, movsxd, movnti, xchg, "
          "add, sub, and, or, xor, cmp, test are emulated)");
    }
  }
  return refuse("the instruction neither accesses memory nor performs port I/O");
}

}  // namespace side::emulation
