// The translator's internals, shared by its parts: translate.cc (the pass, fixups), translate_branches.cc (direct,
// indirect and return branches), translate_writes.cc (write checks), translate_stack.cc (checks of a new rsp).
#pragma once

#include <Zydis/Zydis.h>
#include <elf.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/strings.h"
#include "sfi/emitter.h"
#include "sfi/liveness.h"
#include "sfi/translate.h"

namespace side::sfi::detail {

inline bool pc_relative(uint32_t type) {
  return type == R_X86_64_PC32 || type == R_X86_64_PLT32 || type == R_X86_64_PC64;
}

inline const char* register_name(ZydisRegister r) {
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

inline bool is_rsp(ZydisRegister r) {
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
  Status copy(uint64_t off, bool extra = false);
  Status branch(uint64_t off);
  Status indirect(uint64_t off);
  Status ret(uint64_t off);
  Status writes(uint64_t off);
  Status write_check(uint64_t off, const ZydisDecodedOperand& op);
  Status check_head(uint64_t off, const ZydisDecodedOperand& op, unsigned& size, bool& checked);
  const ZydisDecodedOperand* single_write() const;
  Status split_write(uint64_t off, const ZydisDecodedOperand& op);
  Status string_check(uint64_t off);
  Status stack_pointer(uint64_t off);
  Status new_stack_pointer(uint64_t off);
  Result<bool> compute_new_rsp(uint64_t off);
  Result<bool> add_to_rsp(uint64_t off, const ZydisDecodedOperand& src, MemoryOperand& mem);
  Result<bool> encoded(uint64_t off, bool ok) const;
  Status bit_offset(uint64_t off, unsigned size);
  Status memory_operand(uint64_t off, const ZydisDecodedOperand& op, MemoryOperand& mem);
  // A direct call, copied or re-encoded by `emit_call`, between the store of its return site into the shadow
  // slot and the return site's stack pointer fix (check_abi.h).
  template <typename F>
  Status shadowed_call(F&& emit_call) {
    const size_t site = emit_.shadow_store();
    SIDE_TRY(emit_call());
    emit_.bind_return_site(site);
    emit_.shadow_return();
    return {};
  }
  Status resolve_fixups();

  const TranslateRequest& req_;
  Emitter emit_;
  Translation out_;
  std::vector<SourceRelocation> relocs_;  // sorted
  size_t next_reloc_ = 0;
  ZydisDecoder decoder_{};
  std::optional<Liveness> liveness_;
  ZydisDecodedInstruction insn_{};
  ZydisDecodedOperand ops_[ZYDIS_MAX_OPERAND_COUNT]{};
  std::span<const SourceRelocation> here_;  // the current instruction's relocations
  bool probe_after_ = false;                // the current instruction changes rsp by a small constant
};

}  // namespace side::sfi::detail
