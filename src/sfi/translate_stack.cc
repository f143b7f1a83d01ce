// Instructions that set rsp: a computed value is checked against the vCPU's own driver stack before it is used, a
// small constant change is followed by a probe of the new top (see kStackSlack in translate.h).
#include <algorithm>
#include <cstring>

#include "sfi/translator.h"

namespace side::sfi::detail {

// An instruction that sets rsp other than push/pop/call/ret: a computed new value is checked first, on the still
// valid stack; a small constant adjustment is probed after it.
Status Translator::stack_pointer(uint64_t off) {
  switch (insn_.mnemonic) {
    case ZYDIS_MNEMONIC_PUSH:
    case ZYDIS_MNEMONIC_PUSHFQ:
    case ZYDIS_MNEMONIC_POPFQ:
      return {};
    default:
      break;
  }
  for (unsigned i = 0; i < insn_.operand_count; ++i) {
    const ZydisDecodedOperand& op = ops_[i];
    if (op.type != ZYDIS_OPERAND_TYPE_REGISTER || !is_rsp(op.reg.value) ||
        !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) {
      continue;
    }
    const bool hidden = op.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN;
    if (hidden && insn_.mnemonic == ZYDIS_MNEMONIC_POP) return {};
    // Traps and system instructions (int3 padding, ud2, syscall): the kernel or side's handler takes over.
    if (hidden && (insn_.meta.category == ZYDIS_CATEGORY_INTERRUPT || insn_.meta.category == ZYDIS_CATEGORY_SYSTEM ||
                   insn_.meta.category == ZYDIS_CATEGORY_SYSCALL || insn_.meta.category == ZYDIS_CATEGORY_SYSRET)) {
      return {};
    }
    if (op.reg.value != ZYDIS_REGISTER_RSP) return fail(off, "writes part of rsp");
    return new_stack_pointer(off);
  }
  return {};
}

namespace {

bool small(int64_t v) {
  return v > -kStackSlack && v < kStackSlack;
}

ZydisEncoderRequest register_op(ZydisMnemonic m, ZydisRegister dst, ZydisRegister src) {
  ZydisEncoderRequest req;
  std::memset(&req, 0, sizeof(req));
  req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  req.mnemonic = m;
  req.operand_count = 2;
  req.operands[0].type = ZYDIS_OPERAND_TYPE_REGISTER;
  req.operands[0].reg.value = dst;
  req.operands[1].type = ZYDIS_OPERAND_TYPE_REGISTER;
  req.operands[1].reg.value = src;
  return req;
}

}  // namespace

// Puts the value rsp will have after the instruction into r11 (frame saved); false: no check needed (a small
// constant adjustment); an error if the form is not one the translator knows.
// add/sub of an immediate or a register to rsp: r11 = the new value; false for a small constant.
Result<bool> Translator::add_to_rsp(uint64_t off, const ZydisDecodedOperand& src, MemoryOperand& mem) {
  if (src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
    const int64_t v = insn_.mnemonic == ZYDIS_MNEMONIC_ADD ? src.imm.value.s : -src.imm.value.s;
    if (small(v)) return false;
    mem.disp = v;
    return encoded(off, emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE));
  }
  // r10 = the register (its original value: nothing changed it yet), r11 = rsp, then the operation.
  const bool moved = src.reg.value == ZYDIS_REGISTER_R10 ||
                     emit_.encode(register_op(ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_R10, src.reg.value));
  return encoded(off, moved && emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE) &&
                          emit_.encode(register_op(insn_.mnemonic, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R10)));
}

// A new rsp value was (true) or could not be (an error, never "no check needed") computed into r11.
Result<bool> Translator::encoded(uint64_t off, bool ok) const {
  if (!ok) return fail(off, "cannot encode the computation of the new rsp");
  return true;
}

Result<bool> Translator::compute_new_rsp(uint64_t off) {
  const ZydisDecodedOperand& src = ops_[1];
  const bool imm = src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
  const bool reg = src.type == ZYDIS_OPERAND_TYPE_REGISTER;
  MemoryOperand mem;
  mem.base = ZYDIS_REGISTER_RSP;
  switch (insn_.mnemonic) {
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SUB:
      if (imm || reg) return add_to_rsp(off, src, mem);
      break;
    case ZYDIS_MNEMONIC_AND: {
      if (!imm) break;
      if (src.imm.value.s < 0 && small(src.imm.value.s)) return false;  // aligns down by less than the slack
      if (!emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE)) return encoded(off, false);  // r11 = rsp
      ZydisEncoderRequest req = register_op(ZYDIS_MNEMONIC_AND, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_NONE);
      req.operands[1].type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
      req.operands[1].imm.s = src.imm.value.s;
      return encoded(off, emit_.encode(req));
    }
    case ZYDIS_MNEMONIC_LEA:
      SIDE_TRY(memory_operand(off, src, mem));
      if (mem.base == ZYDIS_REGISTER_RSP && mem.index == ZYDIS_REGISTER_NONE && !mem.reloc && small(mem.disp)) {
        return false;
      }
      return encoded(off, emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE));
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_XCHG: {
      const ZydisDecodedOperand& other =
          is_rsp(ops_[0].reg.value) && ops_[0].type == ZYDIS_OPERAND_TYPE_REGISTER ? ops_[1] : ops_[0];
      if (other.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        return encoded(off, emit_.encode(register_op(ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_R11, other.reg.value)));
      }
      if (other.type != ZYDIS_OPERAND_TYPE_MEMORY) break;
      SIDE_TRY(memory_operand(off, other, mem));
      return encoded(off, emit_.load(mem, 0));
    }
    case ZYDIS_MNEMONIC_LEAVE:
      mem.base = ZYDIS_REGISTER_RBP;
      mem.disp = 8;
      return encoded(off, emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE));
    case ZYDIS_MNEMONIC_POP:  // pop %rsp: the new value is the one on the stack
      return encoded(off, emit_.load(mem, 0));
    case ZYDIS_MNEMONIC_ENTER:
      if (ops_[1].imm.value.u != 0) break;
      mem.disp = -8 - static_cast<int64_t>(ops_[0].imm.value.u);
      return encoded(off, emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE));
    default:
      break;
  }
  return fail(off, "sets rsp in a way the translator cannot check");
}

Status Translator::new_stack_pointer(uint64_t off) {
  const size_t start = emit_.size();
  emit_.keep_flags(true);
  emit_.keep_scratch(true);
  emit_.spill_to_gs(true);  // the new rsp is computed again after the check, maybe from r10/r11 (check_abi.h)
  emit_.save();
  auto need = compute_new_rsp(off);
  if (!need) return need.error();
  if (!*need) {
    emit_.bytes().resize(start);  // a small constant change: no check, a probe after it
    probe_after_ = true;
    return {};
  }
  emit_.stack_check();
  ++out_.counts.stack_checks;
  return {};
}

}  // namespace side::sfi::detail
