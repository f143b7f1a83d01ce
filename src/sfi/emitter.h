// Byte-level building blocks of translated code: a growing buffer with local labels and fixups, the fixed sequences
// of the inline write check (check_abi.h) and instructions encoded by Zydis around a memory operand.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "sfi/check_abi.h"
#include "sfi/translate.h"

namespace side::sfi {

// A memory operand as decoded, with the relocation that fills its displacement, if any.
struct MemoryOperand {
  ZydisRegister base = ZYDIS_REGISTER_NONE;
  ZydisRegister index = ZYDIS_REGISTER_NONE;
  uint8_t scale = 0;
  int64_t disp = 0;
  bool gs = false;
  uint64_t rip_target = 0;                  // base == RIP without relocation: the section offset it refers to
  const SourceRelocation* reloc = nullptr;  // relocation on the displacement
  uint32_t reloc_bias = 0;                  // its field's distance to the end of the original instruction
};

class Emitter {
 public:
  explicit Emitter(const CheckAbi& abi) : abi_(abi) {}

  std::vector<uint8_t>& bytes() { return out_; }
  std::vector<TranslatedRelocation>& relocations() { return relocs_; }
  size_t size() const { return out_.size(); }
  void put(std::initializer_list<uint8_t> b) { out_.insert(out_.end(), b); }
  void put32(uint32_t v);
  void put_bytes(const uint8_t* p, size_t n) { out_.insert(out_.end(), p, p + n); }
  // A rel32 field whose value is `target - end of field`, patched by resolve(): `target` is an offset in `out_`
  // (local) or is filled later by the translator (section targets, see fixups()).
  struct Fixup {
    size_t field;     // where the rel32 is
    uint64_t target;  // translated offset (local) or original section offset (section)
    bool section;     // target is an original section offset to map
    uint32_t tail;    // bytes of the instruction after the field (imm after a RIP-relative disp)
  };
  std::vector<Fixup>& fixups() { return fixups_; }
  size_t jcc32(uint8_t cc);   // emits 0F 8cc rel32, returns the field to bind
  size_t jmp8();              // emits EB rel8, returns the field
  void bind32(size_t field);  // the rel32 at `field` jumps to the current end
  void bind8(size_t field);

  // --- the inline check (r11 = effective address, r10 free once saved) ---
  // Whether the next check must keep the status flags. When the translator has shown them dead (overwritten
  // before any read), their slot is still reserved but pushfq/popfq (popfq alone costs ~20 cycles) become leas.
  void keep_flags(bool keep) { keep_flags_ = keep; }
  bool keep_flags_enabled() const { return keep_flags_; }
  // Likewise for r10/r11: when neither is live after the check, they are not saved at all.
  void keep_scratch(bool keep) {
    keep_scratch_ = keep;
    gs_spill_ = false;
  }
  bool keep_scratch_enabled() const { return keep_scratch_; }
  // Whether the next check's address depends on r10/r11: they are then also kept at %gs:scratch_spill and taken
  // back from there (check_abi.h), if the ABI has those slots.
  void spill_to_gs(bool on) { gs_spill_ = on && abi_.scratch_spill; }
  bool gs_spill_enabled() const { return gs_spill_; }
  // mov %gs:scratch_spill+8 (r11's slot) into `reg` (r10 or r11).
  void load_spilled_r11(bool into_r10);
  // Bytes the frame save() builds: [flags][r10][r11], each part only if kept.
  int64_t frame() const { return (keep_flags_ ? 8 : 0) + (keep_scratch_ ? 16 : 0); }
  void save();        // lea -16(%rsp),%rsp; mov %r11,8(%rsp); mov %r10,(%rsp); pushfq   (rsp is 24 lower)
  void pop_flags();   // popfq (nothing when the flags are dead)
  void fast_flags();  // the same for the status flags, without popfq (sahf and an overflowing add)
  void restore();     // mov (%rsp),%r10; mov 8(%rsp),%r11; lea 16(%rsp),%rsp
  // Checks [r11, r11+size) (size 1..8) against the window and the rights bitmap; jumps taken to the slow path are
  // appended to `slow`.
  void load_byte_address(unsigned size, bool last);
  void fast_path(unsigned size, std::vector<size_t>& slow);
  // popfq; the return site into the shadow slot; call *violation_entry (through the literal pool); restore. r10
  // holds the length.
  void slow_call();
  // Before a call: `movq $site, shadow_offset-8(%rsp)`, the call's return site into the shadow slot of the return
  // address it will push (check_abi.h). The site is known once the call is emitted: bind_return_site(field) then.
  size_t shadow_store();
  void bind_return_site(size_t field);
  // After a call that comes back through the shadow slot: `lea -shadow_offset(%rsp),%rsp`.
  void shadow_return();
  // After a small constant change of rsp: `push (%rsp); lea 8(%rsp),%rsp`, an access to the new top (and the word
  // below it) that faults in a stack guard, registers and flags untouched.
  void probe_stack();
  // With r11 = a new rsp (frame saved): the inline check that it lies in this vCPU's driver stack, the slow path
  // with kBadStackLength if not; the frame is restored on the way out.
  void stack_check();
  // The whole check around a computed r11: fast path for sizes up to 8, then the slow path.
  void check_tail(unsigned size);
  // The check of a write whose instruction the translator places twice (size 1..8): the fast path, then the frame
  // restored; the instruction follows. Returns the jumps to the slow path.
  std::vector<size_t> fast_head(unsigned size);
  // After the fast copy: a jump over the slow copy (returned, to bind after it), the slow path's call, and, when
  // no restore follows the call, 5 bytes of nops: the slow copy then always has 5 bytes of plain instructions before
  // it that are no branch or return target, room for a device-access rewrite to end its jump there.
  size_t slow_head(unsigned size, const std::vector<size_t>& slow);
  // r11 = the effective address of `mem` with rsp frame() lower than in the original instruction (+ extra).
  bool effective_address(const MemoryOperand& mem, int64_t rsp_extra, ZydisAddressSizeHint asz);
  // mov `mem` (64-bit load) into r11, same conventions.
  bool load(const MemoryOperand& mem, int64_t rsp_extra);
  // Encodes one instruction; false if Zydis refuses.
  bool encode(const ZydisEncoderRequest& req);

  // The literal holding violation_entry, placed after the code by finish().
  void finish();

 private:
  bool memory_instruction(ZydisMnemonic m, const MemoryOperand& mem, int64_t rsp_extra, ZydisAddressSizeHint asz);

  const CheckAbi& abi_;
  bool keep_flags_ = true;
  bool keep_scratch_ = true;
  bool gs_spill_ = false;
  std::vector<uint8_t> out_;
  std::vector<TranslatedRelocation> relocs_;
  std::vector<Fixup> fixups_;
  std::vector<size_t> literal_uses_;  // rel32 fields of `call *lit(%rip)`
};

}  // namespace side::sfi
