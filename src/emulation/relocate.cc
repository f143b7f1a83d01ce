// Instruction classification for site rewriting, on top of Zydis. The rules are a whitelist: an instruction moves to
// a trampoline only if its category is plain data movement or arithmetic and nothing in it depends on where it is.
#include "emulation/relocate.h"

#include <Zydis/Zydis.h>

#include <algorithm>

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

RelocationPlan plan_relocation(std::span<const uint8_t> code, uint64_t rip, unsigned first_length) {
  RelocationPlan plan;
  if (first_length == 0 || first_length > code.size()) {
    plan.refused = "the access instruction is cut off";
    return plan;
  }
  ZydisDecoder d;
  if (!decoder(d)) {
    plan.refused = "no decoder";
    return plan;
  }
  unsigned covered = first_length;
  while (covered < kJumpLength) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d, code.data() + covered, code.size() - covered, &insn, ops))) {
      plan.refused = "an instruction after the access cannot be decoded";
      return plan;
    }
    if (insn.attributes & ZYDIS_ATTRIB_IS_RELATIVE) {
      plan.refused = "an instruction after the access is RIP-relative or a branch";
      return plan;
    }
    if (!relocatable_category(insn)) {
      plan.refused = "an instruction after the access is not relocatable (control flow, trap or system)";
      return plan;
    }
    // Moving the stack pointer by a pop into RSP, or loading segment registers, is legal but never seen after an
    // MMIO access; refuse what the rules above would let through only by accident.
    for (unsigned i = 0; i < insn.operand_count; ++i) {
      const ZydisDecodedOperand& op = ops[i];
      if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
          ZydisRegisterGetClass(op.reg.value) == ZYDIS_REGCLASS_SEGMENT) {
        plan.refused = "an instruction after the access writes a segment register";
        return plan;
      }
    }
    (void)rip;
    covered += insn.length;
  }
  if (covered > kMaxRelocatedBytes) {
    plan.refused = "too many bytes to relocate";
    return plan;
  }
  plan.covered = covered;
  plan.first = first_length;
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
