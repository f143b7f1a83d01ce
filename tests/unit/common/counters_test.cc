// Counter differences when the counter goes up, stays, goes down, and at the ends of its range.
#include "common/counters.h"

#include <gtest/gtest.h>

#include <limits>

namespace side {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
constexpr int64_t kMaxSigned = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinSigned = std::numeric_limits<int64_t>::min();

TEST(CounterChange, UpDownAndStill) {
  EXPECT_EQ(counter_change(10, 15), 5);
  EXPECT_EQ(counter_change(7, 7), 0);
  // Frames declared lost, then delivered late: the count of lost frames went down by 128.
  EXPECT_EQ(counter_change(200, 72), -128);
  EXPECT_EQ(counter_change(1, 0), -1);
}

TEST(CounterChange, SaturatesInsteadOfWrapping) {
  EXPECT_EQ(counter_change(0, kMax), kMaxSigned);
  EXPECT_EQ(counter_change(kMax, 0), kMinSigned);
  EXPECT_EQ(counter_change(0, static_cast<uint64_t>(kMaxSigned)), kMaxSigned);
  EXPECT_EQ(counter_change(static_cast<uint64_t>(kMaxSigned), 0), -kMaxSigned);
}

TEST(CounterGrowth, AResetOrADecreaseIsNoGrowth) {
  EXPECT_EQ(counter_growth(10, 15), 5u);
  EXPECT_EQ(counter_growth(15, 15), 0u);
  EXPECT_EQ(counter_growth(200, 72), 0u);  // not 18446744073709551488
  EXPECT_EQ(counter_growth(kMax, 0), 0u);
  EXPECT_EQ(counter_growth(0, kMax), kMax);
}

// A run of readings that moves both ways: the changes add up to the last reading less the first.
TEST(CounterChange, ChangesAddUpOverAWalk) {
  const uint64_t readings[] = {0, 5, 3, 3, 40, 12, 12, 100, 0, 7};
  int64_t sum = 0;
  for (size_t i = 1; i < std::size(readings); ++i) sum += counter_change(readings[i - 1], readings[i]);
  EXPECT_EQ(sum, 7);
}

}  // namespace
}  // namespace side
