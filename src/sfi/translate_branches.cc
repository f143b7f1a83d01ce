// Branches: direct ones keep their targets in rel32 form, raw indirect ones and returns become the checked thunks.
#include <algorithm>
#include <cstring>

#include "sfi/translator.h"

namespace side::sfi::detail {

// A direct branch. With a relocation (a call or jump to a symbol, rel32) it is copied and the loader places it;
// otherwise its target is in this section and it is re-encoded in its rel32 form, patched later. A call records
// its return site in the shadow slot first (check_abi.h); the function-entry hook `call __fentry__`, whose only
// use here was to record the caller's return address, is dropped.
Status Translator::branch(uint64_t off) {
  const bool call = insn_.mnemonic == ZYDIS_MNEMONIC_CALL;
  if (!here_.empty()) {
    const std::string_view name = name_of(here_.front());
    if (call && name == "__fentry__") {
      emit_.put({0x90});  // a nop keeps every instruction's translation non-empty (code_map.h)
      ++out_.counts.fentry_removed;
      return {};
    }
    if (name.starts_with("__x86_indirect_thunk_")) ++out_.counts.indirect_branches;
    if (name == "__x86_return_thunk") ++out_.counts.returns;
    if (!call) return copy(off);
    ++out_.counts.calls;
    return shadowed_call([&] { return copy(off); });
  }
  const ZydisDecodedOperand& op = ops_[0];
  if (op.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !op.imm.is_relative) return fail(off, "unusual relative branch");
  // With an operand-size prefix Intel and AMD disagree on what a rel16 branch does: refused rather than guessed.
  if (insn_.raw.imm[0].size == 16) return fail(off, "16-bit relative branch");
  const uint64_t target = off + insn_.length + static_cast<uint64_t>(op.imm.value.s);
  const uint8_t first = req_.code[off + insn_.raw.prefix_count];
  auto rel32 = [&](std::initializer_list<uint8_t> opcode) {
    emit_.put(opcode);
    emit_.fixups().push_back(Emitter::Fixup{emit_.size(), target, true, 0});
    emit_.put32(0);
  };
  if (insn_.raw.imm[0].size == 8) ++out_.counts.widened_branches;
  switch (insn_.mnemonic) {
    case ZYDIS_MNEMONIC_CALL:
      ++out_.counts.calls;
      return shadowed_call([&]() -> Status {
        rel32({0xe8});
        return {};
      });
    case ZYDIS_MNEMONIC_JMP:
      rel32({0xe9});
      return {};
    case ZYDIS_MNEMONIC_LOOP:
    case ZYDIS_MNEMONIC_LOOPE:
    case ZYDIS_MNEMONIC_LOOPNE:
    case ZYDIS_MNEMONIC_JRCXZ:
      // loop/jrcxz have no rel32 form: `op +2` reaches a jmp rel32 to the target, the fall-through skips it.
      if (insn_.raw.prefix_count != 0) return fail(off, "loop or jrcxz with a prefix");
      emit_.put({first, 0x02, 0xeb, 0x05});
      rel32({0xe9});
      return {};
    case ZYDIS_MNEMONIC_XBEGIN:
      rel32({0xc7, 0xf8});
      return {};
    default:
      break;
  }
  if (insn_.meta.category != ZYDIS_CATEGORY_COND_BR) {
    return fail(off, "unsupported relative branch");
  }
  rel32({0x0f, static_cast<uint8_t>(0x80 | (insn_.opcode & 0x0f))});  // 7x rel8 and 0F 8x rel32 alike
  return {};
}

// A raw indirect call or jump becomes the retpoline-build form the runtime checks in its thunks.
Status Translator::indirect(uint64_t off) {
  const ZydisDecodedOperand& op = ops_[0];
  const uint8_t opcode = insn_.meta.category == ZYDIS_CATEGORY_CALL ? 0xe8 : 0xe9;
  if (insn_.meta.category == ZYDIS_CATEGORY_COND_BR || insn_.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ||
      insn_.operand_width != 64) {
    return fail(off, "unsupported indirect branch");
  }
  const char* reg = nullptr;
  if (op.type == ZYDIS_OPERAND_TYPE_REGISTER) {
    reg = register_name(op.reg.value);
    if (!reg) return fail(off, "indirect branch through an unsupported register");
  } else if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) {
    MemoryOperand mem;
    SIDE_TRY(memory_operand(off, op, mem));
    // The load happens before the call pushes, with no frame: rsp is as in the original.
    if (!emit_.load(mem, -emit_.frame())) return fail(off, "cannot load the target of an indirect branch");
    reg = "r11";
  } else {
    return fail(off, "unsupported indirect branch");
  }
  call_named(opcode, std::string("__x86_indirect_thunk_") + reg);
  ++out_.counts.indirect_branches;
  ++out_.counts.converted_indirect;
  return {};
}

Status Translator::ret(uint64_t off) {
  if (insn_.mnemonic != ZYDIS_MNEMONIC_RET || insn_.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ||
      insn_.operand_count_visible != 0) {
    return fail(off, "unsupported return (ret imm16 or far)");
  }
  call_named(0xe9, "__x86_return_thunk");
  ++out_.counts.returns;
  ++out_.counts.converted_returns;
  return {};
}

}  // namespace side::sfi::detail
