// Fuzzes the sfi translator (sfi/translate.h) with arbitrary bytes as a module's text section (one function at
// offset 0, no relocations). Besides memory safety and UB, checks what the isolation relies on: a translation
// either is refused or decodes, instruction by instruction, into code where every memory write that is not a
// small rsp-relative stack write comes after a call to the violation entry's slow path or after its inline fast
// path's rights test (whose failure jumps past the write to a slow-path call),
// no raw return or indirect branch survives, and the offset map is consistent both ways.
#include <Zydis/Zydis.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <span>
#include <vector>

#include "sfi/translate.h"

namespace {

using namespace side::sfi;

// Says which invariant broke, then stops (libFuzzer keeps the input).
[[noreturn]] void violated(int line) {
  std::fprintf(stderr, "fuzz_sfi_translate.cc:%d: invariant violated\n", line);
  __builtin_trap();
}
#define CHECK(cond)                  \
  do {                               \
    if (!(cond)) violated(__LINE__); \
  } while (0)

constexpr CheckAbi kAbi{0x40000000, 30, 0x7f0000000000, 0x7f0000001000, 0x18, 0x28, 0xf0000, 0x100000};

bool small_stack_write(const ZydisDecodedOperand& op) {
  return op.mem.base == ZYDIS_REGISTER_RSP && op.mem.index == ZYDIS_REGISTER_NONE &&
         op.mem.segment != ZYDIS_REGISTER_GS && op.mem.disp.value > -kStackSlack && op.mem.disp.value < kStackSlack;
}

bool slow_call(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) {
  return insn.meta.category == ZYDIS_CATEGORY_CALL && ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY;
}

// The translator's store of a call's return site into its shadow slot (check_abi.h): the write right before a
// call, at rsp + shadow_offset - 8, which the driver's own writes never reach.
bool shadow_store(const Translation& t, uint64_t at, const ZydisDecodedInstruction& insn, const ZydisDecodedOperand& op,
                  uint64_t end) {
  if (op.mem.base != ZYDIS_REGISTER_RSP || op.mem.index != ZYDIS_REGISTER_NONE || op.mem.segment == ZYDIS_REGISTER_GS ||
      op.mem.disp.value != static_cast<int64_t>(kAbi.shadow_offset - 8) || insn.mnemonic != ZYDIS_MNEMONIC_MOV) {
    return false;
  }
  ZydisDecoder d;
  ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction next;
  const uint64_t n = at + insn.length;
  return n < end && ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&d, nullptr, t.code.data() + n, end - n, &next)) &&
         next.meta.category == ZYDIS_CATEGORY_CALL;
}

// A check's copy of r10 or r11 in the per-cpu scratch slots (check_abi.h: scratch_spill), which no driver code
// may write: the translator's own store.
bool spill_store(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops, const ZydisDecodedOperand& op) {
  const auto disp = static_cast<uint64_t>(op.mem.disp.value);
  return insn.mnemonic == ZYDIS_MNEMONIC_MOV && op.mem.segment == ZYDIS_REGISTER_GS &&
         op.mem.base == ZYDIS_REGISTER_NONE && op.mem.index == ZYDIS_REGISTER_NONE &&
         (disp == kAbi.scratch_spill || disp == kAbi.scratch_spill + 8) && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
         (ops[1].reg.value == ZYDIS_REGISTER_R10 || ops[1].reg.value == ZYDIS_REGISTER_R11);
}

// Where the calls to the slow path are in [begin, end).
std::vector<uint64_t> slow_calls(const Translation& t, uint64_t begin, uint64_t end) {
  ZydisDecoder d;
  ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  std::vector<uint64_t> calls;
  for (uint64_t at = begin; at < end;) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    CHECK(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d, t.code.data() + at, end - at, &insn, ops)));
    if (slow_call(insn, ops)) calls.push_back(at);
    at += insn.length;
  }
  return calls;
}

// The translation of one original instruction: [begin, end) of the output. A write is checked when a call to the
// slow path came before it in the segment, or (the fast copy of a write placed twice) when the rights test's
// `jnc` to the slow path came before it and jumps forward past it to code that reaches a slow-path call.
void check_segment(const Translation& t, uint64_t begin, uint64_t end, uint64_t literal) {
  ZydisDecoder d;
  ZydisDecoderInit(&d, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  const std::vector<uint64_t> calls = slow_calls(t, begin, end);
  bool checked = false;  // a call to the slow path (every check has one) came before, in this segment
  uint64_t fast_to = 0;  // the target of the last rights test's jnc to the slow path (0: none)
  for (uint64_t at = begin; at < end;) {
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    CHECK(ZYAN_SUCCESS(ZydisDecoderDecodeFull(&d, t.code.data() + at, end - at, &insn, ops)));
    CHECK(insn.meta.category != ZYDIS_CATEGORY_RET);
    const bool branch = insn.meta.category == ZYDIS_CATEGORY_CALL || insn.meta.category == ZYDIS_CATEGORY_UNCOND_BR;
    if (branch && ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE) {
      // Only `call *violation_entry(%rip)`.
      CHECK(ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[0].mem.base == ZYDIS_REGISTER_RIP);
      CHECK(at + insn.length + static_cast<uint64_t>(ops[0].mem.disp.value) == literal);
      checked = true;
    }
    if (insn.mnemonic == ZYDIS_MNEMONIC_JNB && insn.raw.imm[0].size == 32) {
      const uint64_t to = at + insn.length + static_cast<uint64_t>(insn.raw.imm[0].value.s);
      bool reaches = false;
      for (uint64_t c : calls) reaches |= c >= to;
      fast_to = reaches && to < end ? to : 0;
    }
    for (unsigned i = 0; i < insn.operand_count; ++i) {
      const ZydisDecodedOperand& op = ops[i];
      if (op.type != ZYDIS_OPERAND_TYPE_MEMORY || !(op.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
      if (op.visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN && op.mem.base == ZYDIS_REGISTER_RSP) continue;
      if (small_stack_write(op)) continue;
      if (shadow_store(t, at, insn, op, end) || spill_store(insn, ops, op)) continue;
      CHECK(checked || fast_to > at);
    }
    at += insn.length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  TranslateRequest req;
  req.code = std::span<const uint8_t>(data, size);
  req.symbol_name = [](uint32_t) { return std::string_view(); };
  req.abi = kAbi;
  req.what = "fuzz";
  auto t = translate(req);
  if (!t) return 0;
  const auto& entries = t->map.entries();
  CHECK(!entries.empty() && entries.back().first == size);
  CHECK(t->code.size() >= 8 && t->code.size() % 8 == 0);
  const uint64_t literal = t->code.size() - 8;
  uint64_t violation;
  std::memcpy(&violation, t->code.data() + literal, 8);
  CHECK(violation == kAbi.violation_entry);
  for (size_t i = 0; i + 1 < entries.size(); ++i) {
    CHECK(entries[i].first < entries[i + 1].first && entries[i].second < entries[i + 1].second);
    CHECK(t->map.to_original(entries[i].second) == entries[i].first);
    CHECK(t->map.to_translated(entries[i].first) == entries[i].second);
    check_segment(*t, entries[i].second, entries[i + 1].second, literal);
  }
  CHECK(entries.back().second <= literal);
  for (const TranslatedRelocation& r : t->relocations) {
    CHECK((!r.name.empty() || r.self) &&
          r.offset + 4 <= literal);  // no relocations in the input: only the translator's own
  }
  return 0;
}
