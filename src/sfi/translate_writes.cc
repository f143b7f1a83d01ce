// Write checks: the effective address and size of every memory write, and the range of string stores.
#include <algorithm>
#include <cstring>

#include "sfi/translator.h"

namespace side::sfi::detail {

Status Translator::memory_operand(uint64_t off, const ZydisDecodedOperand& op, MemoryOperand& mem) {
  if (op.mem.type != ZYDIS_MEMOP_TYPE_MEM && op.mem.type != ZYDIS_MEMOP_TYPE_AGEN)
    return fail(off, "unsupported memory operand (vector or bound)");
  if (op.mem.segment == ZYDIS_REGISTER_FS) return fail(off, "fs-relative memory access");
  if (ZydisRegisterGetClass(op.mem.index) == ZYDIS_REGCLASS_XMM ||
      ZydisRegisterGetClass(op.mem.index) == ZYDIS_REGCLASS_YMM ||
      ZydisRegisterGetClass(op.mem.index) == ZYDIS_REGCLASS_ZMM) {
    return fail(off, "write through a vector of addresses");
  }
  if (insn_.address_width != 64) return fail(off, "memory access with a 32-bit address size");
  mem.base = op.mem.base;
  mem.index = op.mem.index;
  mem.scale = op.mem.scale;
  mem.disp = op.mem.disp.has_displacement ? op.mem.disp.value : 0;
  mem.gs = op.mem.segment == ZYDIS_REGISTER_GS;
  const uint64_t field = off + insn_.raw.disp.offset;
  for (const SourceRelocation& r : here_) {
    if (insn_.raw.disp.size == 32 && r.offset == field) {
      mem.reloc = &r;
      mem.reloc_bias = static_cast<uint32_t>(off + insn_.length - field);
    }
  }
  if (mem.base == ZYDIS_REGISTER_RIP && !mem.reloc) {
    mem.rip_target = off + insn_.length + static_cast<uint64_t>(mem.disp);
  }
  return {};
}

namespace {

bool is_scratch(ZydisRegister r) {
  const ZydisRegister r64 = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
  return r64 == ZYDIS_REGISTER_R10 || r64 == ZYDIS_REGISTER_R11;
}

}  // namespace

// Every memory operand the instruction writes gets a check before it; string stores get the range check.
Status Translator::writes(uint64_t off) {
  bool string_done = false;
  for (unsigned i = 0; i < insn_.operand_count; ++i) {
    const ZydisDecodedOperand& op = ops_[i];
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
    // push, call, pushf, enter: the stack slots below rsp (see kStackSlack).
    if (op.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && op.mem.base == ZYDIS_REGISTER_RSP &&
        op.mem.segment != ZYDIS_REGISTER_GS) {
      continue;
    }
    if (insn_.meta.category == ZYDIS_CATEGORY_STRINGOP || insn_.meta.category == ZYDIS_CATEGORY_IOSTRINGOP) {
      if (!string_done) SIDE_TRY(string_check(off));
      string_done = true;
      continue;
    }
    SIDE_TRY(write_check(off, op));
  }
  return {};
}

Status Translator::write_check(uint64_t off, const ZydisDecodedOperand& op) {
  unsigned size = 0;
  bool checked = false;
  SIDE_TRY(check_head(off, op, size, checked));
  if (checked) emit_.check_tail(size);
  return {};
}

// Everything of a check before its tail: the frame saved and r11 = the effective address; `checked` false for a
// stack slot, which needs no check (see kStackSlack).
Status Translator::check_head(uint64_t off, const ZydisDecodedOperand& op, unsigned& size, bool& checked) {
  MemoryOperand mem;
  SIDE_TRY(memory_operand(off, op, mem));
  const bool stack = mem.base == ZYDIS_REGISTER_RSP && mem.index == ZYDIS_REGISTER_NONE && !mem.gs && !mem.reloc &&
                     mem.disp > -kStackSlack && mem.disp < kStackSlack;
  checked = !stack;
  if (stack) return {};
  size = op.size / 8;
  if (size == 0 || op.size % 8 != 0) return fail(off, "write of unknown size");
  // pop to memory computes an rsp-based address after rsp moved up.
  const int64_t rsp_extra = insn_.mnemonic == ZYDIS_MNEMONIC_POP ? 8 : 0;
  emit_.keep_flags(liveness_->flags_live(off));
  emit_.keep_scratch(liveness_->scratch_live(off));
  const bool bit_string = (insn_.mnemonic == ZYDIS_MNEMONIC_BTS || insn_.mnemonic == ZYDIS_MNEMONIC_BTR ||
                           insn_.mnemonic == ZYDIS_MNEMONIC_BTC) &&
                          ops_[1].type == ZYDIS_OPERAND_TYPE_REGISTER;
  // An address that depends on r10/r11 is rebuilt from them after the check: they come back from slots no
  // driver code can write (check_abi.h), not from the driver stack.
  emit_.spill_to_gs(is_scratch(mem.base) || is_scratch(mem.index) || (bit_string && is_scratch(ops_[1].reg.value)));
  if (!emit_.keep_flags_enabled()) ++out_.counts.flagless_sites;
  if (!emit_.keep_scratch_enabled()) ++out_.counts.frameless_sites;
  emit_.save();
  if (!emit_.effective_address(mem, rsp_extra, ZYDIS_ADDRESS_SIZE_HINT_NONE)) {
    return fail(off, "cannot encode the address of a write");
  }
  if (bit_string) SIDE_TRY(bit_offset(off, size));
  ++out_.counts.write_sites;
  return {};
}

// The one memory operand a plain write instruction checks (at most 8 bytes, no string store, rsp left alone), or
// nullptr when the instruction is anything else.
const ZydisDecodedOperand* Translator::single_write() const {
  const ZydisDecodedOperand* found = nullptr;
  if (insn_.meta.category == ZYDIS_CATEGORY_STRINGOP || insn_.meta.category == ZYDIS_CATEGORY_IOSTRINGOP) {
    return nullptr;
  }
  for (unsigned i = 0; i < insn_.operand_count; ++i) {
    const ZydisDecodedOperand& op = ops_[i];
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && is_rsp(op.reg.value) &&
        (op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) {
      return nullptr;
    }
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
    if (found || op.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN || op.size == 0 || op.size > 64) return nullptr;
    found = &op;
  }
  return found;
}

// A plain write with its instruction placed twice (Emitter::split_head): once where the fast path falls through,
// once after the slow path's call. The same checks, the same single execution of the instruction, but neither
// copy is a branch target, so a device-window write (always the slow copy) stays rewritable into a jump to its
// device-access trampoline instead of trapping on every execution.
Status Translator::split_write(uint64_t off, const ZydisDecodedOperand& op) {
  unsigned size = 0;
  bool checked = false;
  SIDE_TRY(check_head(off, op, size, checked));
  if (!checked) return copy(off);
  const std::vector<size_t> slow = emit_.fast_head(size);
  SIDE_TRY(copy(off, /*extra=*/true));
  const size_t over = emit_.slow_head(size, slow);
  SIDE_TRY(copy(off));
  emit_.bind8(over);
  return {};
}

// bts/btr/btc with a register bit offset touch the word at EA + (offset >> log2(bits)) * size, the offset signed.
Status Translator::bit_offset(uint64_t off, unsigned size) {
  ZydisRegister reg = ops_[1].reg.value;
  const ZydisRegister r64 = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, reg);
  ZydisEncoderRequest req;
  std::memset(&req, 0, sizeof(req));
  req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  req.mnemonic = size == 8 ? ZYDIS_MNEMONIC_MOV : size == 4 ? ZYDIS_MNEMONIC_MOVSXD : ZYDIS_MNEMONIC_MOVSX;
  req.operand_count = 2;
  req.operands[0].type = ZYDIS_OPERAND_TYPE_REGISTER;
  req.operands[0].reg.value = ZYDIS_REGISTER_R10;
  if (r64 == ZYDIS_REGISTER_R11 && emit_.gs_spill_enabled()) {
    // Its original value from the copy no driver code can change, then sign-extended from the operand's width.
    emit_.load_spilled_r11(true);
    if (size == 8) req.mnemonic = ZYDIS_MNEMONIC_INVALID;
    req.operands[1].type = ZYDIS_OPERAND_TYPE_REGISTER;
    req.operands[1].reg.value = size == 4 ? ZYDIS_REGISTER_R10D : ZYDIS_REGISTER_R10W;
  } else if (r64 == ZYDIS_REGISTER_R11) {  // its original value is in the frame's top slot (the write reads it)
    if (!emit_.keep_scratch_enabled()) return fail(off, "bit offset in a scratch register not saved");
    req.operands[1].type = ZYDIS_OPERAND_TYPE_MEMORY;
    req.operands[1].mem.base = ZYDIS_REGISTER_RSP;
    req.operands[1].mem.displacement = emit_.frame() - 8;
    req.operands[1].mem.size = static_cast<uint16_t>(size);
  } else {
    req.operands[1].type = ZYDIS_OPERAND_TYPE_REGISTER;
    req.operands[1].reg.value = reg;
  }
  if (req.mnemonic != ZYDIS_MNEMONIC_INVALID && !emit_.encode(req)) return fail(off, "cannot encode a bit offset");
  const uint8_t shift = size == 8 ? 6 : size == 4 ? 5 : 4;
  const uint8_t scale = size == 8 ? 0xd3 : size == 4 ? 0x93 : 0x53;
  emit_.put({0x49, 0xc1, 0xfa, shift});  // sar $shift,%r10
  emit_.put({0x4f, 0x8d, 0x1c, scale});  // lea (%r11,%r10,size),%r11
  return {};
}

// stos/movs/ins write [rdi, rdi + count * size) with count = rcx under rep, 1 otherwise; always the slow path.
Status Translator::string_check(uint64_t off) {
  if (insn_.address_width != 64) return fail(off, "string instruction with a 32-bit address size");
  const unsigned size = insn_.operand_width / 8;
  const bool rep = insn_.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE);
  emit_.keep_flags(true);  // the direction flag is read from the saved flags
  emit_.keep_scratch(true);
  emit_.save();
  emit_.put({0x49, 0x89, 0xfb});  // mov %rdi,%r11
  if (rep) {
    emit_.put({0x49, 0x89, 0xca});  // mov %rcx,%r10
    const uint8_t shift = size == 8 ? 3 : size == 4 ? 2 : size == 2 ? 1 : 0;
    if (shift) {
      // A count whose byte length does not fit 64 bits (2^61 quadwords is 0 bytes modulo 2^64) is an impossible
      // length, never a short one.
      emit_.put({0x49, 0xc1, 0xea, static_cast<uint8_t>(64 - shift)});  // shr $(64-shift),%r10
      emit_.put({0x74, 0x06});                                          // jz +6
      emit_.put({0x49, 0x83, 0xca, 0xff});                              // or $-1,%r10
      emit_.put({0xeb, 0x07});                                          // jmp +7
      emit_.put({0x49, 0x89, 0xca});                                    // mov %rcx,%r10
      emit_.put({0x49, 0xc1, 0xe2, shift});                             // shl $shift,%r10
    }
  } else {
    emit_.put({0x41, 0xba});  // mov $size,%r10d
    emit_.put32(size);
  }
  // With the direction flag set the range runs downwards; drivers never do that: an impossible length faults.
  emit_.put({0xf7, 0x04, 0x24, 0x00, 0x04, 0x00, 0x00});  // testl $0x400,(%rsp)
  emit_.put({0x74, 0x04});                                // jz +4
  emit_.put({0x49, 0x83, 0xca, 0xff});                    // or $-1,%r10
  emit_.slow_call();
  ++out_.counts.write_sites;
  ++out_.counts.string_sites;
  return {};
}

}  // namespace side::sfi::detail
