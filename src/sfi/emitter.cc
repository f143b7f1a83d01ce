// The fixed byte sequences of the inline write check. Register use: r11 carries the effective address (the ABI's
// register for the slow path), r10 is the scratch and carries the length; both and the flags are saved on the
// driver's stack first (no red zone in kernel code, so the bytes below rsp are free).
#include "sfi/emitter.h"

#include <elf.h>

#include <cstring>

namespace side::sfi {
namespace {}  // namespace

void Emitter::put32(uint32_t v) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  put_bytes(b, 4);
}

size_t Emitter::jcc32(uint8_t cc) {
  put({0x0f, static_cast<uint8_t>(0x80 | cc)});
  put32(0);
  return size() - 4;
}

size_t Emitter::jmp8() {
  put({0xeb, 0x00});
  return size() - 1;
}

void Emitter::bind32(size_t field) {
  const int32_t rel = static_cast<int32_t>(size() - (field + 4));
  std::memcpy(out_.data() + field, &rel, 4);
}

void Emitter::bind8(size_t field) {
  out_[field] = static_cast<uint8_t>(size() - (field + 1));
}

void Emitter::save() {
  if (keep_scratch_) {
    put({0x48, 0x8d, 0x64, 0x24, 0xf0});  // lea -16(%rsp),%rsp (no flags touched)
    put({0x4c, 0x89, 0x5c, 0x24, 0x08});  // mov %r11,8(%rsp)
    put({0x4c, 0x89, 0x14, 0x24});        // mov %r10,(%rsp)
    if (gs_spill_) {
      put({0x65, 0x4c, 0x89, 0x14, 0x25});  // mov %r10,%gs:scratch_spill
      put32(static_cast<uint32_t>(abi_.scratch_spill));
      put({0x65, 0x4c, 0x89, 0x1c, 0x25});  // mov %r11,%gs:scratch_spill+8
      put32(static_cast<uint32_t>(abi_.scratch_spill + 8));
    }
  }
  if (keep_flags_) put({0x9c});  // pushfq
}

void Emitter::load_spilled_r11(bool into_r10) {
  put({0x65, 0x4c, 0x8b, static_cast<uint8_t>(into_r10 ? 0x14 : 0x1c), 0x25});  // mov %gs:scratch_spill+8,%r1x
  put32(static_cast<uint32_t>(abi_.scratch_spill + 8));
}

void Emitter::pop_flags() {
  if (keep_flags_) put({0x9d});  // popfq
}

// The fast path's way back: popfq is microcoded (~20 cycles), and the check changed only the status flags, so
// they are put back from the saved image with sahf (CF PF AF ZF SF from its low byte) and an add that overflows
// exactly when OF (bit 11) was set; rax is parked in r10, which is scratch here (saved in the frame, or dead).
void Emitter::fast_flags() {
  if (!keep_flags_) return;
  put({0x49, 0x89, 0xc2});              // mov %rax,%r10
  put({0x8a, 0x44, 0x24, 0x01});        // mov 1(%rsp),%al
  put({0xc0, 0xe8, 0x03});              // shr $3,%al
  put({0x24, 0x01});                    // and $1,%al
  put({0x04, 0x7f});                    // add $0x7f,%al: OF = the saved OF
  put({0x8a, 0x24, 0x24});              // mov (%rsp),%ah
  put({0x9e});                          // sahf
  put({0x4c, 0x89, 0xd0});              // mov %r10,%rax
  put({0x48, 0x8d, 0x64, 0x24, 0x08});  // lea 8(%rsp),%rsp
}

void Emitter::restore() {
  if (!keep_scratch_) return;
  if (gs_spill_) {
    put({0x65, 0x4c, 0x8b, 0x14, 0x25});  // mov %gs:scratch_spill,%r10
    put32(static_cast<uint32_t>(abi_.scratch_spill));
    load_spilled_r11(false);
  } else {
    put({0x4c, 0x8b, 0x14, 0x24});        // mov (%rsp),%r10
    put({0x4c, 0x8b, 0x5c, 0x24, 0x08});  // mov 8(%rsp),%r11
  }
  put({0x48, 0x8d, 0x64, 0x24, 0x10});  // lea 16(%rsp),%rsp
}

// %r10 = the address of the written range's first byte (%r11) or, with `last`, of its last byte.
void Emitter::load_byte_address(unsigned size, bool last) {
  if (last) {
    put({0x4d, 0x8d, 0x53, static_cast<uint8_t>(size - 1)});  // lea size-1(%r11),%r10
  } else {
    put({0x4d, 0x89, 0xda});  // mov %r11,%r10
  }
}

void Emitter::fast_path(unsigned size, std::vector<size_t>& slow) {
  const uint8_t log2 = static_cast<uint8_t>(abi_.window_log2);
  const uint32_t window = static_cast<uint32_t>(abi_.window_base >> abi_.window_log2);
  // The bit of granule EA>>3 in a bit string that starts window_base/64 bytes before the bitmap.
  const uint64_t bits = abi_.rights_bitmap - abi_.window_base / 64;
  const bool absolute = static_cast<int64_t>(bits) == static_cast<int32_t>(bits);
  for (int last = 0; last < 2; ++last) {
    if (last && size == 1) break;
    load_byte_address(size, last);
    put({0x49, 0xc1, 0xea, log2});  // shr $log2,%r10
    put({0x49, 0x81, 0xfa});        // cmp $window,%r10
    put32(window);
    slow.push_back(jcc32(0x5));  // jne slow
  }
  for (int last = 0; last < 2; ++last) {
    if (last && size == 1) break;
    load_byte_address(size, last);
    put({0x49, 0xc1, 0xea, 0x03});  // shr $3,%r10
    if (absolute) {
      put({0x4c, 0x0f, 0xa3, 0x14, 0x25});  // bt %r10,bits
      put32(static_cast<uint32_t>(bits));
    } else {
      put({0x50, 0x48, 0xb8});  // push %rax; movabs $bits,%rax
      uint8_t b[8];
      std::memcpy(b, &bits, 8);
      put_bytes(b, 8);
      put({0x4c, 0x0f, 0xa3, 0x10, 0x58});  // bt %r10,(%rax); pop %rax
    }
    slow.push_back(jcc32(0x3));  // jnc slow
  }
}

void Emitter::slow_call() {
  pop_flags();  // the slow path sees the driver's flags and preserves them
  const size_t site = shadow_store();
  put({0xff, 0x15});  // call *violation_entry(%rip)
  put32(0);
  literal_uses_.push_back(size() - 4);
  bind_return_site(site);
  restore();
}

size_t Emitter::shadow_store() {
  put({0x48, 0xc7, 0x84, 0x24});  // movq $imm32, disp32(%rsp)
  put32(static_cast<uint32_t>(abi_.shadow_offset - 8));
  put32(0);
  return size() - 4;
}

void Emitter::bind_return_site(size_t field) {
  TranslatedRelocation r;
  r.offset = field;
  r.type = R_X86_64_32S;
  r.addend = static_cast<int64_t>(size());
  r.self = true;
  relocs_.push_back(std::move(r));
}

void Emitter::shadow_return() {
  put({0x48, 0x8d, 0xa4, 0x24});  // lea -shadow_offset(%rsp),%rsp
  put32(static_cast<uint32_t>(-static_cast<int64_t>(abi_.shadow_offset)));
}

void Emitter::probe_stack() {
  put({0xff, 0x34, 0x24});              // push (%rsp)
  put({0x48, 0x8d, 0x64, 0x24, 0x08});  // lea 8(%rsp),%rsp
}

void Emitter::stack_check() {
  put({0x65, 0x4c, 0x2b, 0x1c, 0x25});  // sub %gs:stack_floor,%r11
  put32(static_cast<uint32_t>(abi_.stack_floor));
  put({0x49, 0x81, 0xfb});  // cmp $stack_span,%r11
  put32(static_cast<uint32_t>(abi_.stack_span));
  const size_t bad = jcc32(0x3);  // jae bad
  fast_flags();
  restore();
  const size_t done = jmp8();
  bind32(bad);
  put({0x65, 0x4c, 0x03, 0x1c, 0x25});  // add %gs:stack_floor,%r11: the value, for the report
  put32(static_cast<uint32_t>(abi_.stack_floor));
  put({0x49, 0xc7, 0xc2});  // mov $kBadStackLength,%r10 (sign-extended -2)
  put32(static_cast<uint32_t>(kBadStackLength));
  slow_call();
  bind8(done);
}

void Emitter::check_tail(unsigned size) {
  if (size <= kGranule) {
    std::vector<size_t> slow;
    fast_path(size, slow);
    fast_flags();
    restore();
    const size_t done = jmp8();
    for (size_t f : slow) bind32(f);
    put({0x41, 0xba});  // mov $size,%r10d
    put32(size);
    slow_call();
    bind8(done);
    return;
  }
  put({0x41, 0xba});  // mov $size,%r10d: wider than a granule pair, the slow path checks the whole range
  put32(size);
  slow_call();
}

std::vector<size_t> Emitter::fast_head(unsigned size) {
  std::vector<size_t> slow;
  fast_path(size, slow);
  fast_flags();
  restore();
  return slow;
}

size_t Emitter::slow_head(unsigned size, const std::vector<size_t>& slow) {
  const size_t over = jmp8();
  for (size_t f : slow) bind32(f);
  put({0x41, 0xba});  // mov $size,%r10d
  put32(size);
  slow_call();
  // Five one-byte nops: the device-access rewriter moves only plain instructions (the long nop is another class).
  if (!keep_scratch_) put({0x90, 0x90, 0x90, 0x90, 0x90});
  return over;
}

bool Emitter::encode(const ZydisEncoderRequest& req) {
  uint8_t buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
  ZyanUSize len = sizeof(buf);
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, buf, &len))) return false;
  put_bytes(buf, len);
  return true;
}

bool Emitter::memory_instruction(ZydisMnemonic m, const MemoryOperand& mem, int64_t rsp_extra,
                                 ZydisAddressSizeHint asz) {
  ZydisEncoderRequest req;
  std::memset(&req, 0, sizeof(req));
  req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  req.mnemonic = m;
  req.address_size_hint = asz;
  req.operand_count = 2;
  req.operands[0].type = ZYDIS_OPERAND_TYPE_REGISTER;
  req.operands[0].reg.value = ZYDIS_REGISTER_R11;
  ZydisEncoderOperand& op = req.operands[1];
  op.type = ZYDIS_OPERAND_TYPE_MEMORY;
  op.mem.base = mem.base;
  op.mem.index = mem.index;
  op.mem.scale = mem.index == ZYDIS_REGISTER_NONE ? 0 : mem.scale;
  op.mem.size = 8;
  int64_t disp = mem.disp;
  if (mem.base == ZYDIS_REGISTER_RSP) disp += frame() + rsp_extra;
  const bool rip = mem.base == ZYDIS_REGISTER_RIP;
  // A relocated displacement is zero in the file: a placeholder forces the disp32 form, then the field is cleared.
  if (mem.reloc) disp = 0x12345678;
  if (rip) disp = 0x12345678;
  op.mem.displacement = disp;
  const size_t start = size();
  if (!encode(req)) return false;
  ZydisDecoder d;
  ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d, nullptr, out_.data() + start, size() - start, &insn)) ||
      ((mem.reloc || rip) && insn.raw.disp.size != 32)) {
    return false;
  }
  const size_t field = start + insn.raw.disp.offset;
  const uint32_t bias = static_cast<uint32_t>(size() - field);
  if (mem.reloc) {
    std::memset(out_.data() + field, 0, 4);
    TranslatedRelocation r;
    r.offset = field;
    r.type = mem.reloc->type;
    r.symbol = mem.reloc->symbol;
    const bool pc = rip;
    r.addend = pc ? mem.reloc->addend + mem.reloc_bias - bias : mem.reloc->addend;
    r.bias = pc ? bias : 0;
    r.derived = true;
    relocs_.push_back(r);
  } else if (rip) {
    fixups_.push_back(Fixup{field, mem.rip_target, true, bias - 4});
  }
  return true;
}

bool Emitter::effective_address(const MemoryOperand& mem, int64_t rsp_extra, ZydisAddressSizeHint asz) {
  if (!memory_instruction(ZYDIS_MNEMONIC_LEA, mem, rsp_extra, asz)) return false;
  if (mem.gs) {
    put({0xf3, 0x49, 0x0f, 0xae, 0xca});  // rdgsbase %r10
    put({0x4d, 0x01, 0xd3});              // add %r10,%r11 (flags are saved)
  }
  return true;
}

bool Emitter::load(const MemoryOperand& mem, int64_t rsp_extra) {
  if (mem.gs) return false;
  return memory_instruction(ZYDIS_MNEMONIC_MOV, mem, rsp_extra, ZYDIS_ADDRESS_SIZE_HINT_NONE);
}

void Emitter::finish() {
  while (out_.size() % 8) out_.push_back(0xcc);
  const size_t literal = out_.size();
  uint8_t b[8];
  std::memcpy(b, &abi_.violation_entry, 8);
  put_bytes(b, 8);
  for (size_t field : literal_uses_) {
    const int32_t rel = static_cast<int32_t>(literal - (field + 4));
    std::memcpy(out_.data() + field, &rel, 4);
  }
}

}  // namespace side::sfi
