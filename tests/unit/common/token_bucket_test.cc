#include "common/token_bucket.h"

#include <gtest/gtest.h>

namespace side {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

TEST(TokenBucket, BurstThenTheSteadyRate) {
  TokenBucket b(10, 5);
  int taken = 0;
  for (int i = 0; i < 100; ++i) taken += b.take(kSecond);
  EXPECT_EQ(taken, 5);
  taken = 0;
  for (int i = 0; i < 100; ++i) taken += b.take(2 * kSecond);  // one second later: 10 more
  EXPECT_EQ(taken, 5);                                         // but never more than the burst
  EXPECT_FALSE(b.take(2 * kSecond));
  EXPECT_TRUE(b.take(2 * kSecond + kSecond / 10));
}

TEST(TokenBucket, TimeGoingBackwardsAddsNothing) {
  TokenBucket b(1000, 1);
  EXPECT_TRUE(b.take(10 * kSecond));
  EXPECT_FALSE(b.take(kSecond));
  EXPECT_FALSE(b.take(10 * kSecond));
}

}  // namespace
}  // namespace side
