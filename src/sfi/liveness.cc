#include "sfi/liveness.h"

#include <algorithm>

namespace side::sfi {
namespace {

constexpr int kBudget = 48;   // instructions decoded per question
constexpr int kMaxPaths = 8;  // pending branch targets

constexpr unsigned kStatus =
    ZYDIS_CPUFLAG_CF | ZYDIS_CPUFLAG_PF | ZYDIS_CPUFLAG_AF | ZYDIS_CPUFLAG_ZF | ZYDIS_CPUFLAG_SF | ZYDIS_CPUFLAG_OF;

// Bit 0: r10, bit 1: r11, for a register of any width; 0 for others.
unsigned scratch_bit(ZydisRegister r) {
  const ZydisRegister full = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
  return full == ZYDIS_REGISTER_R10 ? 1 : full == ZYDIS_REGISTER_R11 ? 2 : 0;
}

// The scratch registers an instruction reads (`read`) and overwrites entirely (`set`: a 64- or 32-bit write that
// does not read; narrower writes merge, so they count as reads).
void scratch_use(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops, unsigned& read, unsigned& set) {
  read = set = 0;
  for (unsigned i = 0; i < insn.operand_count; ++i) {
    const ZydisDecodedOperand& op = ops[i];
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      read |= scratch_bit(op.mem.base) | scratch_bit(op.mem.index);
      continue;
    }
    if (op.type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
    const unsigned bit = scratch_bit(op.reg.value);
    if (!bit) continue;
    const bool reads = op.actions & ZYDIS_OPERAND_ACTION_MASK_READ;
    const bool writes = op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
    if (reads || (writes && op.size < 32)) read |= bit;
    if (writes && !reads && op.size >= 32) set |= bit;
  }
}

bool traps(const ZydisDecodedInstruction& insn) {
  return insn.meta.category == ZYDIS_CATEGORY_INTERRUPT || insn.meta.category == ZYDIS_CATEGORY_SYSTEM ||
         insn.meta.category == ZYDIS_CATEGORY_SYSCALL;
}

}  // namespace

Liveness::Liveness(std::span<const uint8_t> code, std::span<const SourceRelocation> relocations,
                   std::function<std::string_view(uint32_t)> symbol_name)
    : code_(code), relocs_(relocations), symbol_name_(std::move(symbol_name)) {
  ZydisDecoderInit(&decoder_, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
}

std::string_view Liveness::reloc_name(uint64_t off, uint64_t len) const {
  auto it = std::lower_bound(relocs_.begin(), relocs_.end(), off,
                             [](const SourceRelocation& r, uint64_t o) { return r.offset < o; });
  if (it == relocs_.end() || it->offset >= off + len) return {};
  return symbol_name_(it->symbol);
}

bool Liveness::names_thunk(uint64_t off, uint64_t len) const {
  const std::string_view name = reloc_name(off, len);
  return name == "__x86_return_thunk" || name.starts_with("__x86_indirect_thunk_");
}

bool Liveness::live_along(uint64_t start, unsigned all, const Step& step) const {
  struct Path {
    uint64_t off;
    unsigned defined;
  };
  Path pending[kMaxPaths];
  int count = 0, budget = kBudget;
  pending[count++] = {start, 0};
  while (count) {
    auto [off, defined] = pending[--count];
    for (;;) {
      ZydisDecodedInstruction insn;
      ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
      if (--budget < 0 || off >= code_.size() ||
          !ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder_, code_.data() + off, code_.size() - off, &insn, ops))) {
        return true;
      }
      const Flow flow = step(insn, ops, off, defined);
      if (flow == Flow::kLive) return true;
      if (flow == Flow::kDead || defined == all) break;
      const bool relative = ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[0].imm.is_relative;
      const uint64_t target = off + insn.length + static_cast<uint64_t>(relative ? ops[0].imm.value.s : 0);
      const bool local = relative && reloc_name(off, insn.length).empty() && target < code_.size();
      if (insn.meta.category == ZYDIS_CATEGORY_COND_BR) {
        if (!local || count == kMaxPaths) return true;
        pending[count++] = {target, defined};
      } else if (insn.meta.category == ZYDIS_CATEGORY_UNCOND_BR) {
        if (!local) return true;  // step() decided thunks; anything else is unknown
        off = target;
        continue;
      }
      off += insn.length;
    }
  }
  return false;
}

bool Liveness::flags_live(uint64_t off) const {
  return live_along(
      off, kStatus,
      [this](const ZydisDecodedInstruction& insn, const ZydisDecodedOperand*, uint64_t at, unsigned& defined) {
        if (insn.cpu_flags && (insn.cpu_flags->tested & kStatus & ~defined)) return Flow::kLive;
        if (insn.meta.category == ZYDIS_CATEGORY_CALL || insn.meta.category == ZYDIS_CATEGORY_RET) return Flow::kDead;
        if (insn.meta.category == ZYDIS_CATEGORY_UNCOND_BR && names_thunk(at, insn.length)) return Flow::kDead;
        if (traps(insn)) return Flow::kLive;
        if (insn.cpu_flags) {
          defined |=
              (insn.cpu_flags->modified | insn.cpu_flags->set_0 | insn.cpu_flags->set_1 | insn.cpu_flags->undefined) &
              kStatus;
        }
        return Flow::kNext;
      });
}

bool Liveness::scratch_live(uint64_t off) const {
  return live_along(
      off, 3,
      [this](const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops, uint64_t at, unsigned& defined) {
        unsigned read, set;
        scratch_use(insn, ops, read, set);
        if (read & ~defined) return Flow::kLive;
        defined |= set;
        const std::string_view name = reloc_name(at, insn.length);
        const unsigned thunk = name == "__x86_indirect_thunk_r10" ? 1 : name == "__x86_indirect_thunk_r11" ? 2 : 0;
        if (thunk & ~defined) return Flow::kLive;
        if (insn.meta.category == ZYDIS_CATEGORY_CALL || insn.meta.category == ZYDIS_CATEGORY_RET) return Flow::kDead;
        if (insn.meta.category == ZYDIS_CATEGORY_UNCOND_BR && names_thunk(at, insn.length)) return Flow::kDead;
        if (traps(insn)) return Flow::kLive;
        return Flow::kNext;
      });
}

}  // namespace side::sfi
