#include <gtest/gtest.h>

#include "supervisor/traffic_peer.h"

namespace side::supervisor {
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

}  // namespace
}  // namespace side::supervisor
