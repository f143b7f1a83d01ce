// ping's output as iputils prints it: every reply's time, the summary's counts, the nearest-rank median.
#include "conformance/ping_output.h"

#include <gtest/gtest.h>

namespace side::conformance {
namespace {

TEST(PingOutput, RepliesAndSummary) {
  const auto p = parse_ping_output(
      "PING 10.77.0.2 (10.77.0.2) 56(84) bytes of data.\n"
      "64 bytes from 10.77.0.2: icmp_seq=1 ttl=64 time=0.670 ms\n"
      "64 bytes from 10.77.0.2: icmp_seq=2 ttl=64 time=1.07 ms\n"
      "64 bytes from 10.77.0.2: icmp_seq=3 ttl=64 time=0.561 ms\n"
      "64 bytes from 10.77.0.2: icmp_seq=4 ttl=64 time=0.834 ms\n"
      "\n--- 10.77.0.2 ping statistics ---\n"
      "5 packets transmitted, 4 received, 20% packet loss, time 1828ms\n"
      "rtt min/avg/max/mdev = 0.561/0.800/1.067/0.151 ms\n");
  EXPECT_TRUE(p.summary);
  EXPECT_EQ(p.transmitted, 5u);
  EXPECT_EQ(p.received, 4u);
  EXPECT_EQ(p.rtt_ms, (std::vector<double>{0.670, 1.07, 0.561, 0.834}));
  // Four samples: the 2nd smallest is the first with half of them at or below it.
  EXPECT_DOUBLE_EQ(*p.median_ms(), 0.670);
}

TEST(PingOutput, OddCountMedianIsTheMiddle) {
  PingOutput p;
  p.rtt_ms = {3, 1, 2};
  EXPECT_DOUBLE_EQ(*p.median_ms(), 2);
}

TEST(PingOutput, NoReplyNoFigure) {
  const auto p = parse_ping_output(
      "PING 10.77.0.2 (10.77.0.2) 56(84) bytes of data.\n"
      "From 10.77.0.1 icmp_seq=1 Destination Host Unreachable\n"
      "--- 10.77.0.2 ping statistics ---\n"
      "3 packets transmitted, 0 received, +1 errors, 100% packet loss, time 2030ms\n");
  EXPECT_TRUE(p.summary);
  EXPECT_EQ(p.transmitted, 3u);
  EXPECT_EQ(p.received, 0u);
  EXPECT_FALSE(p.median_ms());
}

TEST(PingOutput, GarbageIsNoSummary) {
  const auto p = parse_ping_output("ping: connect: Network is unreachable\ntime=abc\n");
  EXPECT_FALSE(p.summary);
  EXPECT_TRUE(p.rtt_ms.empty());
}

}  // namespace
}  // namespace side::conformance
