// Instruction classification for site rewriting, on top of Zydis. The rules are a whitelist: an instruction moves to
// a trampoline only if its category is plain data movement or arithmetic and nothing in it depends on where it is.
#include "emulation/relocate.h"

#include <Zydis/Zydis.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>

namespace side::emulation {
namespace {

bool decoder(ZydisDecoder& d) {
  return ZYAN_SUCCESS(ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64));
}

// Categories whose instructions neither transfer control nor change processor state beyond registers, flags and
// ordinary memory. LEA is MISC in Zydis; other MISC members (ud0/ud1/ud2, cpuid, ...) are refused.
bool relocatable_category(const ZydisDecodedInstruction& insn) {
  switch (insn.meta.category) {
    case ZYDIS_CATEGORY_DATAXFER:
    case ZYDIS_CATEGORY_BINARY:
    case ZYDIS_CATEGORY_LOGICAL:
    case ZYDIS_CATEGORY_SHIFT:
    case ZYDIS_CATEGORY_ROTATE:
    case ZYDIS_CATEGORY_BITBYTE:
    case ZYDIS_CATEGORY_CMOV:
    case ZYDIS_CATEGORY_SETCC:
    case ZYDIS_CATEGORY_NOP:
    case ZYDIS_CATEGORY_PUSH:
    case ZYDIS_CATEGORY_POP:
    case ZYDIS_CATEGORY_CONVERT:
    case ZYDIS_CATEGORY_FLAGOP:
      return true;
    case ZYDIS_CATEGORY_MISC:
      return insn.mnemonic == ZYDIS_MNEMONIC_LEA;
    default:
      return false;
  }
}

}  // namespace

namespace {

using Kind = RelocatedInstruction::Kind;

// A direct jump, conditional jump or call (one relative immediate). Indirect ones (through a register or memory;
// retpoline builds have none) and loop/jrcxz (no rel32 form) stay put. Null, or why it cannot move.
const char* classify_branch(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops, uint64_t at,
                            RelocatedInstruction& r, bool* ends_flow) {
  const bool relative = insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE;
  const bool direct = relative && insn.operand_count_visible == 1 && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
                      ops[0].imm.is_relative;
  const bool loop = insn.mnemonic == ZYDIS_MNEMONIC_LOOP || insn.mnemonic == ZYDIS_MNEMONIC_LOOPE ||
                    insn.mnemonic == ZYDIS_MNEMONIC_LOOPNE || insn.mnemonic == ZYDIS_MNEMONIC_JRCXZ ||
                    insn.mnemonic == ZYDIS_MNEMONIC_JECXZ || insn.mnemonic == ZYDIS_MNEMONIC_JCXZ;
  ZyanU64 target = 0;
  if (!direct || loop || !ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &ops[0], at, &target))) {
    return "an instruction after the access is an indirect or loop branch";
  }
  r.target = target;
  if (insn.meta.category == ZYDIS_CATEGORY_CALL) {
    r.kind = Kind::kCall;
  } else if (insn.meta.category == ZYDIS_CATEGORY_UNCOND_BR) {
    r.kind = Kind::kJump;
    *ends_flow = true;
  } else {
    r.kind = Kind::kCondJump;
    r.cond = static_cast<uint8_t>(insn.opcode & 0x0f);  // 7x rel8 and 0F 8x rel32 alike
  }
  return nullptr;
}

// Any other instruction, after the access or (`before`) in the prefix before it: relocatable unless it traps, is
// privileged or writes a segment register; a RIP-relative memory operand (the only other relative form, always
// with a disp32 in 64-bit mode) is re-aimed.
const char* classify_other(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops, uint64_t at,
                           RelocatedInstruction& r, bool before = false) {
  if (!relocatable_category(insn)) {
    return before ? "an instruction before the access is not relocatable"
                  : "an instruction after the access is not relocatable (trap, system or privileged)";
  }
  for (unsigned i = 0; i < insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = ops[i];
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
        ZydisRegisterGetClass(op.reg.value) == ZYDIS_REGCLASS_SEGMENT) {
      return before ? "an instruction before the access writes a segment register"
                    : "an instruction after the access writes a segment register";
    }
  }
  if (!(insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE)) return nullptr;
  const ZydisDecodedOperand* mem = nullptr;
  for (unsigned i = 0; i < insn.operand_count; ++i) {
    if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[i].mem.base == ZYDIS_REGISTER_RIP) mem = &ops[i];
  }
  ZyanU64 abs = 0;
  if (!mem || insn.raw.disp.size != 32 || insn.raw.disp.offset == 0 ||
      !ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, mem, at, &abs))) {
    return before ? "an instruction before the access has an unusual RIP-relative form"
                  : "an instruction after the access has an unusual RIP-relative form";
  }
  r.kind = Kind::kRipRelative;
  r.disp_offset = insn.raw.disp.offset;
  r.target = abs;
  return nullptr;
}

// How instruction `insn` at `at` moves into the trampoline (into `r`); null, or why it cannot.
const char* classify(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops, uint64_t at,
                     RelocatedInstruction& r, bool* ends_flow) {
  switch (insn.meta.category) {
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_CALL:
      return classify_branch(insn, ops, at, r, ends_flow);
    case ZYDIS_CATEGORY_RET:
      // A plain near return (not `ret imm16`, not far): it depends only on the stack.
      if (insn.mnemonic != ZYDIS_MNEMONIC_RET || insn.operand_count_visible != 0 || insn.length != 1) {
        return "an instruction after the access is an unusual return";
      }
      r.kind = Kind::kReturn;
      *ends_flow = true;
      return nullptr;
    default:
      return classify_other(insn, ops, at, r);
  }
}

RelocationPlan refused(const char* why) {
  RelocationPlan plan;
  plan.refused = why;
  return plan;
}

}  // namespace

RelocationPlan plan_relocation(std::span<const uint8_t> code, uint64_t rip, unsigned first_length) {
  if (first_length == 0 || first_length > code.size()) return refused("the access instruction is cut off");
  ZydisDecoder d;
  if (!decoder(d)) return refused("no decoder");
  RelocationPlan plan;
  unsigned covered = first_length;
  while (covered < kJumpLength && !plan.ends_flow) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d, code.data() + covered, code.size() - covered, &insn, ops))) {
      return refused("an instruction after the access cannot be decoded");
    }
    if (plan.count == kMaxRelocated) return refused("too many instructions to relocate");
    RelocatedInstruction& r = plan.insns[plan.count];
    r.offset = static_cast<uint8_t>(covered);
    r.length = insn.length;
    if (const char* why = classify(insn, ops, rip + covered, r, &plan.ends_flow)) return refused(why);
    ++plan.count;
    covered += insn.length;
  }
  // After a jump or a return the jump's remaining bytes land on padding that no fall-through reaches (the caller
  // still checks that nothing branches there).
  if (covered < kJumpLength) covered = kJumpLength;
  if (covered > kMaxRelocatedBytes || covered > code.size()) return refused("too many bytes to relocate");
  plan.covered = covered;
  plan.first = first_length;
  return plan;
}

namespace {

bool rel32(uint64_t target, uint64_t next, int32_t& out) {
  const int64_t delta = static_cast<int64_t>(target - next);
  if (delta < INT32_MIN || delta > INT32_MAX) return false;
  out = static_cast<int32_t>(delta);
  return true;
}

}  // namespace

unsigned emit_relocated(const RelocationPlan& plan, std::span<const uint8_t> code, uint64_t rip, uint64_t address,
                        uint8_t* out, std::array<uint16_t, kMaxRelocated>& offsets, bool jump_back) {
  using Kind = RelocatedInstruction::Kind;
  unsigned n = 0;
  int32_t rel = 0;
  auto put32 = [&](int32_t v) {
    std::memcpy(out + n, &v, 4);
    n += 4;
  };
  for (unsigned i = 0; i < plan.count; ++i) {
    const RelocatedInstruction& r = plan.insns[i];
    if (r.offset + r.length > code.size()) return 0;
    offsets[i] = static_cast<uint16_t>(n);
    switch (r.kind) {
      case Kind::kCopy:
      case Kind::kReturn:
        std::memcpy(out + n, code.data() + r.offset, r.length);
        n += r.length;
        break;
      case Kind::kRipRelative: {
        std::memcpy(out + n, code.data() + r.offset, r.length);
        if (r.disp_offset + 4u > r.length || !rel32(r.target, address + n + r.length, rel)) return 0;
        std::memcpy(out + n + r.disp_offset, &rel, 4);
        n += r.length;
        break;
      }
      case Kind::kJump:
        if (!rel32(r.target, address + n + 5, rel)) return 0;
        out[n++] = 0xe9;
        put32(rel);
        break;
      case Kind::kCall:
        if (!rel32(r.target, address + n + 5, rel)) return 0;
        out[n++] = 0xe8;
        put32(rel);
        break;
      case Kind::kCondJump:
        if (!rel32(r.target, address + n + 6, rel)) return 0;
        out[n++] = 0x0f;
        out[n++] = static_cast<uint8_t>(0x80 | r.cond);
        put32(rel);
        break;
    }
  }
  if (!plan.ends_flow && jump_back) {
    if (!rel32(rip + plan.covered, address + n + 5, rel)) return 0;
    out[n++] = 0xe9;
    put32(rel);
  }
  return n;
}

namespace {

// The earliest instruction boundary before `at` (the access's offset in `function`) from which a jump fits, found by
// decoding forwards from the function's start; skips the ranges already rewritten (a prefix never starts inside or
// before one's end). SIZE_MAX when there is none; *why says why not, if it is an error.
size_t prefix_start(ZydisDecoder& d, std::span<const uint8_t> function, uint64_t function_start, size_t at, size_t need,
                    std::span<const std::pair<uint64_t, uint64_t>> rewritten, const char** why) {
  size_t off = 0, start = SIZE_MAX;
  while (off < at) {
    const uint64_t here = function_start + off;
    bool skipped = false;
    for (const auto& [s, e] : rewritten) {
      if (s == here && e > here && e - function_start <= at) {
        off = e - function_start;
        start = SIZE_MAX;
        skipped = true;
        break;
      }
    }
    if (skipped) continue;
    ZydisDecodedInstruction insn;
    if (!ZYAN_SUCCESS(
            ZydisDecoderDecodeInstruction(&d, nullptr, function.data() + off, function.size() - off, &insn))) {
      *why = "the function before the access cannot be decoded";
      return SIZE_MAX;
    }
    if (at - off >= need) start = off;
    off += insn.length;
  }
  if (off != at) start = SIZE_MAX;
  return start;
}

}  // namespace

RelocationPlan plan_prefix(std::span<const uint8_t> function, uint64_t function_start, uint64_t rip,
                           unsigned first_length, std::span<const std::pair<uint64_t, uint64_t>> rewritten) {
  ZydisDecoder d;
  if (!decoder(d) || rip < function_start || rip - function_start >= function.size() || first_length == 0) {
    return refused("the access is not inside its function");
  }
  const size_t at = rip - function_start;
  if (first_length >= kJumpLength) return refused("no prefix needed");
  const char* why = nullptr;
  const size_t start = prefix_start(d, function, function_start, at, kJumpLength - first_length, rewritten, &why);
  if (why) return refused(why);
  if (start == SIZE_MAX) return refused("no instruction boundary before the access to start a jump at");
  if (at - start > kMaxRelocatedBytes - first_length) return refused("too many bytes to relocate");
  RelocationPlan plan;
  for (size_t off = start; off < at;) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d, function.data() + off, function.size() - off, &insn, ops)) ||
        plan.count == kMaxRelocated) {
      return refused("a prefix instruction cannot be decoded");
    }
    RelocatedInstruction& r = plan.insns[plan.count++];
    r.offset = static_cast<uint8_t>(off - start);
    r.length = insn.length;
    if (const char* bad = classify_other(insn, ops, function_start + off, r, /*before=*/true)) return refused(bad);
    off += insn.length;
  }
  plan.covered = static_cast<unsigned>(at - start);
  plan.first = 0;
  return plan;
}

void collect_branch_targets(std::span<const uint8_t> text, uint64_t base, std::vector<uint64_t>& out) {
  ZydisDecoder d;
  if (!decoder(d)) return;
  const uint64_t end = base + text.size();
  size_t off = 0;
  while (off < text.size()) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d, text.data() + off, text.size() - off, &insn, ops))) {
      ++off;
      continue;
    }
    if (insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE) {
      for (unsigned i = 0; i < insn.operand_count_visible; ++i) {
        const ZydisDecodedOperand& op = ops[i];
        const bool target = (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE && op.imm.is_relative) ||
                            (op.type == ZYDIS_OPERAND_TYPE_MEMORY && op.mem.base == ZYDIS_REGISTER_RIP);
        if (!target) continue;
        ZyanU64 abs = 0;
        if (!ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, &op, base + off, &abs))) continue;
        // Branches anywhere count; RIP-relative data references only when they point into this text (a local
        // label's address taken for an indirect jump).
        if (op.type == ZYDIS_OPERAND_TYPE_MEMORY && (abs < base || abs >= end)) continue;
        out.push_back(abs);
      }
    }
    off += insn.length;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

}  // namespace side::emulation
