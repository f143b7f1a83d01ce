// The translator proper: one linear pass over the section, decoding every instruction and emitting its checked
// form; branch and RIP-relative targets inside the section are patched once every boundary's new offset is known.
#include "sfi/translate.h"

#include <elf.h>

#include <algorithm>
#include <cstring>

#include "common/strings.h"
#include "sfi/emitter.h"
#include "sfi/liveness.h"

namespace side::sfi {
namespace {

bool pc_relative(uint32_t type) {
  return type == R_X86_64_PC32 || type == R_X86_64_PLT32 || type == R_X86_64_PC64;
}

const char* register_name(ZydisRegister r) {
  switch (r) {
    case ZYDIS_REGISTER_RAX:
      return "rax";
    case ZYDIS_REGISTER_RBX:
      return "rbx";
    case ZYDIS_REGISTER_RCX:
      return "rcx";
    case ZYDIS_REGISTER_RDX:
      return "rdx";
    case ZYDIS_REGISTER_RSI:
      return "rsi";
    case ZYDIS_REGISTER_RDI:
      return "rdi";
    case ZYDIS_REGISTER_RBP:
      return "rbp";
    case ZYDIS_REGISTER_R8:
      return "r8";
    case ZYDIS_REGISTER_R9:
      return "r9";
    case ZYDIS_REGISTER_R10:
      return "r10";
    case ZYDIS_REGISTER_R11:
      return "r11";
    case ZYDIS_REGISTER_R12:
      return "r12";
    case ZYDIS_REGISTER_R13:
      return "r13";
    case ZYDIS_REGISTER_R14:
      return "r14";
    case ZYDIS_REGISTER_R15:
      return "r15";
    default:
      return nullptr;
  }
}

bool is_rsp(ZydisRegister r) {
  return r == ZYDIS_REGISTER_RSP || r == ZYDIS_REGISTER_ESP || r == ZYDIS_REGISTER_SP || r == ZYDIS_REGISTER_SPL;
}

class Translator {
 public:
  explicit Translator(const TranslateRequest& req) : req_(req), emit_(req.abi) {}

  Result<Translation> run();

 private:
  Error fail(uint64_t off, const std::string& why) const {
    return Error{req_.what + ": offset " + hex(off) + ": " + why};
  }
  Status check_abi() const;
  Status one(uint64_t off);
  // The relocations in [off, off + len), in offset order.
  std::span<const SourceRelocation> relocs_in(uint64_t off, uint64_t len);
  std::string_view name_of(const SourceRelocation& r) const { return req_.symbol_name(r.symbol); }
  void call_named(uint8_t opcode, const std::string& name);
  Status copy(uint64_t off);
  Status branch(uint64_t off);
  Status indirect(uint64_t off);
  Status ret(uint64_t off);
  Status writes(uint64_t off);
  Status write_check(uint64_t off, const ZydisDecodedOperand& op);
  Status string_check(uint64_t off);
  Status stack_pointer(uint64_t off);
  Status new_stack_pointer(uint64_t off);
  Result<bool> compute_new_rsp(uint64_t off);
  Status bit_offset(uint64_t off, unsigned size);
  Status memory_operand(uint64_t off, const ZydisDecodedOperand& op, MemoryOperand& mem);
  void fentry_if_needed(uint64_t off);
  Status resolve_fixups();

  const TranslateRequest& req_;
  Emitter emit_;
  Translation out_;
  std::vector<SourceRelocation> relocs_;  // sorted
  size_t next_reloc_ = 0;
  std::vector<uint64_t> functions_;  // sorted
  ZydisDecoder decoder_{};
  std::optional<Liveness> liveness_;
  ZydisDecodedInstruction insn_{};
  ZydisDecodedOperand ops_[ZYDIS_MAX_OPERAND_COUNT]{};
  std::span<const SourceRelocation> here_;  // the current instruction's relocations
};

Status Translator::check_abi() const {
  const CheckAbi& a = req_.abi;
  if (a.window_log2 < 6 || a.window_log2 > 56 || (a.window_base & ((uint64_t{1} << a.window_log2) - 1)) != 0 ||
      (a.window_base >> a.window_log2) > 0x7fffffff) {
    return Error{req_.what + ": the write window is not an aligned power of two the check can encode"};
  }
  return {};
}

std::span<const SourceRelocation> Translator::relocs_in(uint64_t off, uint64_t len) {
  const size_t first = next_reloc_;
  while (next_reloc_ < relocs_.size() && relocs_[next_reloc_].offset < off + len) ++next_reloc_;
  return {relocs_.data() + first, next_reloc_ - first};
}

Result<Translation> Translator::run() {
  SIDE_TRY(check_abi());
  relocs_.assign(req_.relocations.begin(), req_.relocations.end());
  std::sort(relocs_.begin(), relocs_.end(), [](auto& a, auto& b) { return a.offset < b.offset; });
  functions_.assign(req_.functions.begin(), req_.functions.end());
  std::sort(functions_.begin(), functions_.end());
  ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  liveness_.emplace(req_.code, relocs_, req_.symbol_name);
  uint64_t off = 0;
  while (off < req_.code.size()) {
    if (!ZYAN_SUCCESS(
            ZydisDecoderDecodeFull(&decoder_, req_.code.data() + off, req_.code.size() - off, &insn_, ops_))) {
      return fail(off, "undecodable instruction");
    }
    if (next_reloc_ < relocs_.size() && relocs_[next_reloc_].offset < off) {
      return fail(relocs_[next_reloc_].offset, "relocation straddles an instruction boundary");
    }
    here_ = relocs_in(off, insn_.length);
    for (const SourceRelocation& r : here_) {
      const uint64_t width = r.type == R_X86_64_64 || r.type == R_X86_64_PC64 ? 8 : 4;
      if (r.offset + width > off + insn_.length) return fail(r.offset, "relocation straddles an instruction boundary");
    }
    out_.map.add(off, emit_.size());
    fentry_if_needed(off);
    SIDE_TRY(one(off));
    ++out_.counts.instructions;
    off += insn_.length;
  }
  if (next_reloc_ != relocs_.size()) return fail(relocs_[next_reloc_].offset, "relocation outside the section");
  out_.map.add(off, emit_.size());
  SIDE_TRY(resolve_fixups());
  emit_.finish();
  out_.code = std::move(emit_.bytes());
  for (auto& r : emit_.relocations()) out_.relocations.push_back(std::move(r));
  return std::move(out_);
}

void Translator::call_named(uint8_t opcode, const std::string& name) {
  emit_.put({opcode});
  TranslatedRelocation r;
  r.offset = emit_.size();
  r.type = R_X86_64_PLT32;
  r.name = name;
  r.addend = -4;
  r.bias = 4;
  emit_.relocations().push_back(std::move(r));
  emit_.put32(0);
}

void Translator::fentry_if_needed(uint64_t off) {
  if (!std::binary_search(functions_.begin(), functions_.end(), off)) return;
  const bool has = insn_.mnemonic == ZYDIS_MNEMONIC_CALL && insn_.length == 5 && req_.code[off] == 0xe8 &&
                   here_.size() == 1 && here_[0].offset == off + 1 && name_of(here_[0]) == "__fentry__";
  if (has) return;
  call_named(0xe8, "__fentry__");
  ++out_.counts.fentry_inserted;
}

Status Translator::one(uint64_t off) {
  switch (insn_.meta.category) {
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_COND_BR:
      if (insn_.attributes & ZYDIS_ATTRIB_IS_RELATIVE) return branch(off);
      return indirect(off);
    case ZYDIS_CATEGORY_RET:
      return ret(off);
    default:
      break;
  }
  SIDE_TRY(writes(off));
  SIDE_TRY(stack_pointer(off));
  return copy(off);
}

// Copies the instruction unchanged: its relocations move with it; a RIP-relative operand without one refers into
// this section and is re-aimed once the target's new offset is known.
Status Translator::copy(uint64_t off) {
  const size_t start = emit_.size();
  emit_.put_bytes(req_.code.data() + off, insn_.length);
  for (const SourceRelocation& r : here_) {
    TranslatedRelocation t;
    t.offset = start + (r.offset - off);
    t.type = r.type;
    t.symbol = r.symbol;
    t.addend = r.addend;
    t.bias = pc_relative(r.type) ? static_cast<uint32_t>(off + insn_.length - r.offset) : 0;
    emit_.relocations().push_back(t);
  }
  bool rip = false;
  for (unsigned i = 0; i < insn_.operand_count; ++i) {
    rip |= ops_[i].type == ZYDIS_OPERAND_TYPE_MEMORY && ops_[i].mem.base == ZYDIS_REGISTER_RIP;
  }
  if (!rip) return {};
  if (insn_.raw.disp.size != 32) return fail(off, "unusual RIP-relative form");
  const uint64_t field = off + insn_.raw.disp.offset;
  for (const SourceRelocation& r : here_) {
    if (r.offset == field) return {};  // the relocation sets it
  }
  const uint64_t target = off + insn_.length + static_cast<uint64_t>(insn_.raw.disp.value);
  emit_.fixups().push_back(Emitter::Fixup{start + insn_.raw.disp.offset, target, true,
                                          static_cast<uint32_t>(insn_.length - insn_.raw.disp.offset - 4)});
  return {};
}

// A direct branch. With a relocation (a call or jump to a symbol, rel32) it is copied and the loader places it;
// otherwise its target is in this section and it is re-encoded in its rel32 form, patched later.
Status Translator::branch(uint64_t off) {
  if (!here_.empty()) {
    const std::string_view name = name_of(here_.front());
    if (name.starts_with("__x86_indirect_thunk_")) ++out_.counts.indirect_branches;
    if (name == "__x86_return_thunk") ++out_.counts.returns;
    return copy(off);
  }
  const ZydisDecodedOperand& op = ops_[0];
  if (op.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !op.imm.is_relative) return fail(off, "unusual relative branch");
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
      rel32({0xe8});
      return {};
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
      if (insn_.raw.imm[0].size != 32) return fail(off, "xbegin with a 16-bit offset");
      rel32({0xc7, 0xf8});
      return {};
    default:
      break;
  }
  if (insn_.meta.category != ZYDIS_CATEGORY_COND_BR || insn_.raw.imm[0].size == 16) {
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
  MemoryOperand mem;
  SIDE_TRY(memory_operand(off, op, mem));
  const bool stack = mem.base == ZYDIS_REGISTER_RSP && mem.index == ZYDIS_REGISTER_NONE && !mem.gs && !mem.reloc &&
                     mem.disp > -kStackSlack && mem.disp < kStackSlack;
  if (stack) return {};
  const unsigned size = op.size / 8;
  if (size == 0 || op.size % 8 != 0) return fail(off, "write of unknown size");
  // pop to memory computes an rsp-based address after rsp moved up.
  const int64_t rsp_extra = insn_.mnemonic == ZYDIS_MNEMONIC_POP ? 8 : 0;
  emit_.keep_flags(liveness_->flags_live(off));
  emit_.keep_scratch(liveness_->scratch_live(off));
  if (!emit_.keep_flags_enabled()) ++out_.counts.flagless_sites;
  if (!emit_.keep_scratch_enabled()) ++out_.counts.frameless_sites;
  emit_.save();
  if (!emit_.effective_address(mem, rsp_extra, ZYDIS_ADDRESS_SIZE_HINT_NONE)) {
    return fail(off, "cannot encode the address of a write");
  }
  const bool bit_string = (insn_.mnemonic == ZYDIS_MNEMONIC_BTS || insn_.mnemonic == ZYDIS_MNEMONIC_BTR ||
                           insn_.mnemonic == ZYDIS_MNEMONIC_BTC) &&
                          ops_[1].type == ZYDIS_OPERAND_TYPE_REGISTER;
  if (bit_string) SIDE_TRY(bit_offset(off, size));
  emit_.check_tail(size);
  ++out_.counts.write_sites;
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
  if (r64 == ZYDIS_REGISTER_R11) {  // its original value is in the frame's top slot (kept: the write reads it)
    if (!emit_.keep_scratch_enabled()) return fail(off, "bit offset in a scratch register not saved");
    req.operands[1].type = ZYDIS_OPERAND_TYPE_MEMORY;
    req.operands[1].mem.base = ZYDIS_REGISTER_RSP;
    req.operands[1].mem.displacement = emit_.frame() - 8;
    req.operands[1].mem.size = static_cast<uint16_t>(size);
  } else {
    req.operands[1].type = ZYDIS_OPERAND_TYPE_REGISTER;
    req.operands[1].reg.value = reg;
  }
  if (!emit_.encode(req)) return fail(off, "cannot encode a bit offset");
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
    if (shift) emit_.put({0x49, 0xc1, 0xe2, shift});  // shl $shift,%r10
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

// An instruction that sets rsp other than push/pop/call/ret and small constant adjustments: the new value is
// computed first, on the still valid stack, and [new - kStackSlack, new + kStackSlack) must be writable.
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

// Puts the value rsp will have after the instruction into r11 (frame saved); false: no check needed (a small
// constant adjustment); an error if the form is not one the translator knows.
Result<bool> Translator::compute_new_rsp(uint64_t off) {
  const ZydisDecodedOperand& src = ops_[1];
  const bool imm = src.type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
  const bool reg = src.type == ZYDIS_OPERAND_TYPE_REGISTER;
  const bool memory = src.type == ZYDIS_OPERAND_TYPE_MEMORY;
  MemoryOperand mem;
  mem.base = ZYDIS_REGISTER_RSP;
  switch (insn_.mnemonic) {
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_SUB:
      if (imm) {
        const int64_t v = insn_.mnemonic == ZYDIS_MNEMONIC_ADD ? src.imm.value.s : -src.imm.value.s;
        if (small(v)) return false;
        mem.disp = v;
        return emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE);
      }
      if (!reg) break;
      if (src.reg.value != ZYDIS_REGISTER_R10 &&
          !emit_.encode(register_op(ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_R10, src.reg.value))) {
        break;
      }
      if (!emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE)) break;
      return emit_.encode(register_op(insn_.mnemonic, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_R10));
    case ZYDIS_MNEMONIC_AND: {
      if (!imm) break;
      if (src.imm.value.s < 0 && small(src.imm.value.s)) return false;            // aligns down by less than the slack
      if (!emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE)) break;  // r11 = rsp, then the and
      ZydisEncoderRequest req = register_op(ZYDIS_MNEMONIC_AND, ZYDIS_REGISTER_R11, ZYDIS_REGISTER_NONE);
      req.operands[1].type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
      req.operands[1].imm.s = src.imm.value.s;
      return emit_.encode(req);
    }
    case ZYDIS_MNEMONIC_LEA:
      SIDE_TRY(memory_operand(off, src, mem));
      if (mem.base == ZYDIS_REGISTER_RSP && mem.index == ZYDIS_REGISTER_NONE && !mem.reloc && small(mem.disp)) {
        return false;
      }
      return emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE);
    case ZYDIS_MNEMONIC_MOV:
    case ZYDIS_MNEMONIC_XCHG: {
      const ZydisDecodedOperand& other =
          is_rsp(ops_[0].reg.value) && ops_[0].type == ZYDIS_OPERAND_TYPE_REGISTER ? ops_[1] : ops_[0];
      if (other.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        return emit_.encode(register_op(ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_R11, other.reg.value));
      }
      if (other.type != ZYDIS_OPERAND_TYPE_MEMORY) break;
      SIDE_TRY(memory_operand(off, other, mem));
      return emit_.load(mem, 0);
    }
    case ZYDIS_MNEMONIC_LEAVE:
      mem.base = ZYDIS_REGISTER_RBP;
      mem.disp = 8;
      return emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE);
    case ZYDIS_MNEMONIC_POP:  // pop %rsp: the new value is the one on the stack
      return emit_.load(mem, 0);
    case ZYDIS_MNEMONIC_ENTER:
      if (ops_[1].imm.value.u != 0) break;
      mem.disp = -8 - static_cast<int64_t>(ops_[0].imm.value.u);
      return emit_.effective_address(mem, 0, ZYDIS_ADDRESS_SIZE_HINT_NONE);
    default:
      break;
  }
  (void)memory;
  return fail(off, "sets rsp in a way the translator cannot check");
}

Status Translator::new_stack_pointer(uint64_t off) {
  const size_t start = emit_.size();
  emit_.keep_flags(true);
  emit_.keep_scratch(true);
  emit_.save();
  auto need = compute_new_rsp(off);
  if (!need) return need.error();
  if (!*need) {
    emit_.bytes().resize(start);  // nothing to check: drop the frame save
    return {};
  }
  emit_.put({0x4d, 0x8d, 0x9b});  // lea -kStackSlack(%r11),%r11
  emit_.put32(static_cast<uint32_t>(-kStackSlack));
  emit_.put({0x41, 0xba});  // mov $2*kStackSlack,%r10d
  emit_.put32(static_cast<uint32_t>(2 * kStackSlack));
  emit_.slow_call();
  ++out_.counts.stack_checks;
  return {};
}

Status Translator::resolve_fixups() {
  auto& bytes = emit_.bytes();
  for (const Emitter::Fixup& f : emit_.fixups()) {
    if (!f.section) continue;
    auto to = out_.map.to_translated(f.target);
    if (!to)
      return fail(f.target, "a branch or RIP-relative reference lands inside an instruction or outside the section");
    const int64_t rel = static_cast<int64_t>(*to) - static_cast<int64_t>(f.field + 4 + f.tail);
    const int32_t v = static_cast<int32_t>(rel);
    std::memcpy(bytes.data() + f.field, &v, 4);
  }
  return {};
}

}  // namespace

Result<Translation> translate(const TranslateRequest& request) {
  return Translator(request).run();
}

}  // namespace side::sfi
