#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "session/traffic_peer.h"

namespace side::session {
namespace {

const std::array<uint8_t, 6> kA{2, 0, 0, 0, 0, 1}, kB{2, 0, 0, 0, 0, 2};

TEST(TrafficFrames, RoundTripAtEverySize) {
  for (size_t size = 60; size <= 1514; ++size) {
    auto f = TrafficPeer::make_frame(1, size * 3, size, kA, kB);
    ASSERT_EQ(f.size(), size);
    bool corrupt = true;
    auto seq = TrafficPeer::check_frame(f, 1, &corrupt);
    ASSERT_TRUE(seq);
    EXPECT_EQ(*seq, size * 3);
    EXPECT_FALSE(corrupt);
  }
}

TEST(TrafficFrames, EveryCorruptedByteIsDetected) {
  auto good = TrafficPeer::make_frame(0, 42, 200, kA, kB);
  for (size_t i = 30; i < good.size(); ++i) {
    auto f = good;
    f[i] ^= 0x01;
    bool corrupt = false;
    auto seq = TrafficPeer::check_frame(f, 0, &corrupt);
    ASSERT_TRUE(seq);
    EXPECT_TRUE(corrupt) << "byte " << i;
  }
}

TEST(TrafficFrames, TruncationAndOtherTrafficAreRecognised) {
  auto f = TrafficPeer::make_frame(0, 7, 300, kA, kB);
  bool corrupt = false;
  std::span<const uint8_t> shorter(f.data(), 250);
  ASSERT_TRUE(TrafficPeer::check_frame(shorter, 0, &corrupt));
  EXPECT_TRUE(corrupt);
  // The other direction's frames, and non-peer frames, are not counted as this direction's.
  EXPECT_FALSE(TrafficPeer::check_frame(f, 1, &corrupt));
  f[12] = 0x08;
  f[13] = 0x00;
  EXPECT_FALSE(TrafficPeer::check_frame(f, 0, &corrupt));
}

TEST(TrafficFrames, MixedSizesCoverTheRange) {
  size_t lo = 10000, hi = 0;
  for (uint64_t seq = 0; seq < 5000; ++seq) {
    size_t s = TrafficPeer::size_for(seq, 0);
    lo = std::min(lo, s);
    hi = std::max(hi, s);
  }
  EXPECT_EQ(lo, 60u);
  EXPECT_EQ(hi, 1514u);
  EXPECT_EQ(TrafficPeer::size_for(123, 64), 64u);
}

// Round-trip summaries use nearest-rank percentiles: every figure is a sample that was measured.
TEST(TrafficLatency, PercentilesOfKnownSamples) {
  std::vector<uint64_t> ns;
  for (uint64_t us = 100; us >= 1; --us) ns.push_back(us * 1000);  // 1..100 us, in reverse
  auto s = LatencySummary::of(ns);
  EXPECT_EQ(s.samples, 100u);
  EXPECT_DOUBLE_EQ(s.min_us, 1);
  EXPECT_DOUBLE_EQ(s.p50_us, 50);
  EXPECT_DOUBLE_EQ(s.p90_us, 90);
  EXPECT_DOUBLE_EQ(s.p99_us, 99);
  EXPECT_DOUBLE_EQ(s.max_us, 100);
  EXPECT_DOUBLE_EQ(s.mean_us, 50.5);
}

TEST(TrafficLatency, OneSlowSampleInAThousandIsAboveP99) {
  std::vector<uint64_t> ns(999, 50'000);
  ns.push_back(9'000'000);
  auto s = LatencySummary::of(ns);
  EXPECT_DOUBLE_EQ(s.p50_us, 50);
  EXPECT_DOUBLE_EQ(s.p99_us, 50);
  EXPECT_DOUBLE_EQ(s.max_us, 9000);
  EXPECT_DOUBLE_EQ(s.mean_us, (999 * 50.0 + 9000) / 1000);
  // Exactly 1% slow still leaves p99 fast (990 of 1000 at or below it); one more than 1% reaches it.
  std::fill(ns.begin(), ns.begin() + 9, 9'000'000);
  EXPECT_DOUBLE_EQ(LatencySummary::of(ns).p99_us, 50);
  ns[9] = 9'000'000;
  s = LatencySummary::of(ns);
  EXPECT_DOUBLE_EQ(s.p90_us, 50);
  EXPECT_DOUBLE_EQ(s.p99_us, 9000);
}

TEST(TrafficLatency, FewSamples) {
  auto one = LatencySummary::of({7'500});
  EXPECT_EQ(one.samples, 1u);
  EXPECT_DOUBLE_EQ(one.min_us, 7.5);
  EXPECT_DOUBLE_EQ(one.p50_us, 7.5);
  EXPECT_DOUBLE_EQ(one.p99_us, 7.5);
  EXPECT_DOUBLE_EQ(one.max_us, 7.5);
  auto two = LatencySummary::of({3'000, 1'000});
  EXPECT_DOUBLE_EQ(two.p50_us, 1);  // rank ceil(0.5 * 2) = 1
  EXPECT_DOUBLE_EQ(two.p90_us, 3);
  auto none = LatencySummary::of({});
  EXPECT_EQ(none.samples, 0u);
  EXPECT_DOUBLE_EQ(none.p99_us, 0);
}

}  // namespace
}  // namespace side::session
