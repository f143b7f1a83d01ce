// The translator proper: one linear pass over the section, decoding every instruction and emitting its checked
// form; branch and RIP-relative targets inside the section are patched once every boundary's new offset is known.
#include <algorithm>
#include <cstring>

#include "sfi/translator.h"

namespace side::sfi::detail {

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
  const bool call = opcode == 0xe8;
  const size_t site = call ? emit_.shadow_store() : 0;
  emit_.put({opcode});
  TranslatedRelocation r;
  r.offset = emit_.size();
  r.type = R_X86_64_PLT32;
  r.name = name;
  r.addend = -4;
  r.bias = 4;
  emit_.relocations().push_back(std::move(r));
  emit_.put32(0);
  if (call) {
    ++out_.counts.calls;
    emit_.bind_return_site(site);
    emit_.shadow_return();
  }
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
  if (const ZydisDecodedOperand* op = single_write()) return split_write(off, *op);
  SIDE_TRY(writes(off));
  probe_after_ = false;
  SIDE_TRY(stack_pointer(off));
  SIDE_TRY(copy(off));
  if (probe_after_) {
    emit_.probe_stack();
    ++out_.counts.stack_probes;
  }
  return {};
}

// Copies the instruction unchanged: its relocations move with it; a RIP-relative operand without one refers into
// this section and is re-aimed once the target's new offset is known. `extra`: a second placement of the
// instruction (split_write), whose relocations are marked derived.
Status Translator::copy(uint64_t off, bool extra) {
  const size_t start = emit_.size();
  emit_.put_bytes(req_.code.data() + off, insn_.length);
  for (const SourceRelocation& r : here_) {
    TranslatedRelocation t;
    t.offset = start + (r.offset - off);
    t.type = r.type;
    t.symbol = r.symbol;
    t.addend = r.addend;
    t.bias = pc_relative(r.type) ? static_cast<uint32_t>(off + insn_.length - r.offset) : 0;
    t.derived = extra;
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

}  // namespace side::sfi::detail

namespace side::sfi {

TranslateCounts& TranslateCounts::operator+=(const TranslateCounts& o) {
  instructions += o.instructions;
  write_sites += o.write_sites;
  string_sites += o.string_sites;
  flagless_sites += o.flagless_sites;
  frameless_sites += o.frameless_sites;
  stack_checks += o.stack_checks;
  stack_probes += o.stack_probes;
  calls += o.calls;
  fentry_removed += o.fentry_removed;
  indirect_branches += o.indirect_branches;
  converted_indirect += o.converted_indirect;
  returns += o.returns;
  converted_returns += o.converted_returns;
  widened_branches += o.widened_branches;
  return *this;
}

Result<Translation> translate(const TranslateRequest& request) {
  return detail::Translator(request).run();
}

}  // namespace side::sfi
