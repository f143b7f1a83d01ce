// Fuzzes the relocation analysis of rewritten trap sites (emulation/relocate.h) with arbitrary code bytes. The input
// is one byte choosing the access instruction's length (1..15), eight bytes of trampoline displacement, then the
// code. Besides memory safety and UB (ASan/UBSan), it checks the invariants the trap patcher relies on.
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "emulation/relocate.h"

namespace {

using namespace side::emulation;

[[noreturn]] void violated() {
  __builtin_trap();
}
#define CHECK(cond)          \
  do {                       \
    if (!(cond)) violated(); \
  } while (0)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 10) return 0;
  const unsigned first = 1 + data[0] % 15;
  int64_t delta;
  std::memcpy(&delta, data + 1, 8);
  delta %= int64_t{1} << 33;  // sometimes beyond rel32 reach
  std::span<const uint8_t> code(data + 9, size - 9);
  const uint64_t rip = 0x60001000;

  RelocationPlan plan = plan_relocation(code, rip, first);
  if (!plan.refused) {
    CHECK(plan.first == first);
    CHECK(plan.covered >= kJumpLength && plan.covered <= kMaxRelocatedBytes && plan.covered <= code.size());
    CHECK(plan.count <= kMaxRelocated);
    unsigned at = first;
    for (unsigned i = 0; i < plan.count; ++i) {
      const RelocatedInstruction& r = plan.insns[i];
      CHECK(r.offset == at && r.length > 0);
      at += r.length;
      // Only the last instruction may end the flow or be a call (its return address is then rip + covered).
      if (r.kind == RelocatedInstruction::Kind::kJump || r.kind == RelocatedInstruction::Kind::kReturn ||
          r.kind == RelocatedInstruction::Kind::kCall) {
        CHECK(i + 1 == plan.count);
      }
    }
    CHECK(plan.ends_flow ? at <= plan.covered : at == plan.covered);
    std::array<uint16_t, kMaxRelocated> offsets{};
    uint8_t out[8 * 6 + 5 + kMaxRelocatedBytes];
    const uint64_t address = rip + static_cast<uint64_t>(delta);
    unsigned n = emit_relocated(plan, code, rip, address, out, offsets);
    CHECK(n <= sizeof out);
    if (n) {
      for (unsigned i = 0; i < plan.count; ++i) {
        const RelocatedInstruction& r = plan.insns[i];
        CHECK(offsets[i] < n);
        if (r.kind == RelocatedInstruction::Kind::kCopy || r.kind == RelocatedInstruction::Kind::kReturn) {
          CHECK(std::memcmp(out + offsets[i], code.data() + r.offset, r.length) == 0);
        }
        if (r.kind == RelocatedInstruction::Kind::kJump || r.kind == RelocatedInstruction::Kind::kCall) {
          int32_t rel;
          std::memcpy(&rel, out + offsets[i] + 1, 4);
          CHECK(address + offsets[i] + 5 + static_cast<int64_t>(rel) == r.target);
        }
      }
      if (!plan.ends_flow) {
        int32_t rel;
        std::memcpy(&rel, out + n - 4, 4);
        CHECK(out[n - 5] == 0xe9 && address + n + static_cast<int64_t>(rel) == rip + plan.covered);
      }
    }
  }

  std::vector<uint64_t> targets;
  collect_branch_targets(code, rip, targets);
  for (size_t i = 1; i < targets.size(); ++i) CHECK(targets[i - 1] < targets[i]);
  return 0;
}
