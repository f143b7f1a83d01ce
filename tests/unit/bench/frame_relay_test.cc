// The no-driver relay (bench/frame_relay.h): every frame the peer sends crosses it byte for byte, in order, in both
// directions, and the bench's relay point is a valid measurement.
#include "bench/frame_relay.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/benchmark.h"
#include "net/netns.h"
#include "session/traffic_peer.h"

namespace side::bench {
namespace {

const std::array<uint8_t, 6> kMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

TEST(FrameRelay, RelaysEveryFrameIntactAndInOrderBothWays) {
  FrameRelay relay(kMac);
  session::TrafficPeer peer(relay, relay, FrameRelay::kToken, kMac);
  relay.set_frame_sink([&peer](std::span<const uint8_t> f) { peer.on_wire_frame(f); });
  relay.set_frame_receiver(&peer);
  relay.start();
  session::TrafficConfig c;
  c.packets = 20'000;  // per direction, sizes varying over 60..1514 (frame_size 0)
  const auto r = peer.run(c);
  relay.stop();
  for (const auto* d : {&r.tx, &r.rx}) {
    EXPECT_EQ(d->verified, 20'000u);
    EXPECT_EQ(d->corrupt, 0u);
    EXPECT_EQ(d->out_of_order, 0u);
    EXPECT_EQ(d->lost, 0u);
  }
  EXPECT_EQ(r.foreign_frames, 0u);
  const auto n = relay.relay_counters();
  EXPECT_EQ(n.to_wire, 20'000u);
  EXPECT_EQ(n.to_host, 20'000u);
}

TEST(FrameRelay, RefusesWhatNoDriverCouldDo) {
  FrameRelay relay(kMac);
  EXPECT_FALSE(relay.load({"e1000", "", false}));
  EXPECT_FALSE(relay.kill());
  // A frame for another device is not the relay's; with the link down the wire's frames are dropped.
  const std::vector<uint8_t> frame(60, 0xab);
  EXPECT_FALSE(relay.submit_tx(FrameRelay::kToken + 1, frame));
  relay.set_link(false);
  EXPECT_EQ(relay.receive(frame), net::RxResult::kDroppedLinkDown);
}

TEST(FrameRelay, BenchPointIsAVerifiedMeasurement) {
  auto o = BenchOptions::defaults(true);
  o.warmup_s = 0.05;
  o.window_s = 0.2;
  for (const char* dir : {"tx", "rx"}) {
    const auto p = measure_relay_throughput(o, dir, 60);
    EXPECT_TRUE(p.error.empty()) << p.error;
    EXPECT_EQ(p.isolation, "relay");
    EXPECT_GT(p.packets, 0u);
    EXPECT_GT(p.cpu_supervisor_s, 0);
    EXPECT_EQ(p.cpu_domain_s, 0);
  }
}

// The relay's TCP point: iperf3 from the host's TAP to a server behind the wire's TAP, every segment relayed by
// side. In a network namespace of its own (a child process), so that its interfaces meet nobody else's.
TEST(FrameRelay, CarriesTcpBetweenTheHostAndTheWire) {
  if (!net::have_net_admin() || access("/usr/bin/iperf3", X_OK) != 0) GTEST_SKIP() << "needs root and iperf3";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (unshare(CLONE_NEWNET) != 0) _exit(2);
    auto o = BenchOptions::defaults(true);
    o.tcp_seconds = 1;
    const auto t = measure_relay_tcp(o);
    if (!t.error.empty()) std::fprintf(stderr, "relay TCP: %s\n", t.error.c_str());
    _exit(t.error.empty() && t.receiver_gbps > 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace side::bench
