// Planning a prefix jump for a short device access right in front of a branch target, in a function where another
// site was rewritten already: decoding from the function's start must step over the rewritten bytes.
#include "emulation/relocate.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace side::emulation {
namespace {

constexpr uint64_t kFunction = 0x60001000;

// e1000_clean's interrupt re-enable, as Debian's e1000.ko has it: the IMS write (a rewritten site), a pointer load,
// then the 3-byte STATUS flush read that a branch target follows.
std::vector<uint8_t> code() {
  return {
      0x89, 0x90, 0xd0, 0x00, 0x00, 0x00,        // mov %edx,0xd0(%rax)      (offset 0)
      0x49, 0x8b, 0x87, 0xd8, 0x01, 0x00, 0x00,  // mov 0x1d8(%r15),%rax     (offset 6)
      0x8b, 0x40, 0x08,                          // mov 0x8(%rax),%eax       (offset 13: the access)
      0xc3,                                      // ret                      (offset 16: a branch target)
  };
}

TEST(PlanPrefix, OriginalCodeGivesTheInstructionBeforeTheAccess) {
  auto c = code();
  auto plan = plan_prefix(c, kFunction, kFunction + 13, 3);
  ASSERT_EQ(plan.refused, nullptr) << plan.refused;
  EXPECT_EQ(plan.covered, 7u);  // the 7-byte load moves into the trampoline
  EXPECT_EQ(plan.count, 1u);
}

TEST(PlanPrefix, StepsOverARewrittenSite) {
  auto c = code();
  // The IMS write became a jump to its trampoline plus one dead byte: decoded as code, the stream desynchronises.
  const uint8_t jump[6] = {0xe9, 0x10, 0x20, 0x30, 0x40, 0x00};
  std::copy(jump, jump + 6, c.begin());
  EXPECT_NE(plan_prefix(c, kFunction, kFunction + 13, 3).refused, nullptr);
  const std::pair<uint64_t, uint64_t> rewritten[] = {{kFunction, kFunction + 6}};
  auto plan = plan_prefix(c, kFunction, kFunction + 13, 3, rewritten);
  ASSERT_EQ(plan.refused, nullptr) << plan.refused;
  EXPECT_EQ(plan.covered, 7u);
}

TEST(PlanPrefix, NeverStartsInsideARewrittenRange) {
  auto c = code();
  // The whole prefix candidate is rewritten: no boundary with room for a jump is left before the access.
  const std::pair<uint64_t, uint64_t> rewritten[] = {{kFunction, kFunction + 6}, {kFunction + 6, kFunction + 13}};
  EXPECT_NE(plan_prefix(c, kFunction, kFunction + 13, 3, rewritten).refused, nullptr);
}

}  // namespace
}  // namespace side::emulation
