// Request/response through Debian's e1000: one exchange in flight, the host side answering each request from the
// thread that delivered it, every round trip timed; in this process and in a domain process, and across a restart.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "session/nic_session.h"

namespace side::supervisor {
using session::LatencySummary;
using session::NicSessionConfig;
using session::NicSessionReport;
using session::run_nic_session;
using session::TrafficResult;
namespace {

NicSessionConfig e1000_session(const std::string& isolation, uint64_t exchanges, size_t frame_size) {
  NicSessionConfig c;
  c.isolation = isolation;
  c.module = "e1000";
  c.domain.kapi_path = SIDE_TEST_KAPI;
  c.domain.symvers_path = SIDE_TEST_SYMVERS;
  c.domain.modules_dir = SIDE_TEST_MODULE_CACHE;
  c.executable = SIDE_BINARY;
  c.traffic.request_response = true;
  c.traffic.packets = exchanges;
  c.traffic.frame_size = frame_size;
  return c;
}

// Every exchange completed: both frames verified, one sample each, and the summary is that of the samples.
void expect_every_exchange_timed(const NicSessionReport& r, uint64_t exchanges, size_t frame_size) {
  ASSERT_TRUE(r.ok()) << r.error;
  const TrafficResult& t = r.traffic;
  EXPECT_EQ(t.errors(), 0u);
  EXPECT_EQ(t.foreign_frames, 0u);
  EXPECT_EQ(t.exchanges_lost, 0u);
  EXPECT_EQ(t.rx.sent, exchanges);
  EXPECT_EQ(t.rx.verified, exchanges);
  EXPECT_EQ(t.tx.sent, exchanges);
  EXPECT_EQ(t.tx.verified, exchanges);
  EXPECT_EQ(t.tx.bytes, exchanges * frame_size);
  EXPECT_EQ(t.rx.bytes, exchanges * frame_size);
  ASSERT_EQ(t.rtt_ns.size(), exchanges);
  EXPECT_EQ(t.latency.samples, exchanges);
  EXPECT_GT(*std::min_element(t.rtt_ns.begin(), t.rtt_ns.end()), 0u);
  auto again = LatencySummary::of(t.rtt_ns);
  EXPECT_DOUBLE_EQ(t.latency.p99_us, again.p99_us);
  EXPECT_GT(t.latency.min_us, 0);
  EXPECT_LE(t.latency.min_us, t.latency.p50_us);
  EXPECT_LE(t.latency.p50_us, t.latency.p90_us);
  EXPECT_LE(t.latency.p90_us, t.latency.p99_us);
  EXPECT_LE(t.latency.p99_us, t.latency.max_us);
  EXPECT_LE(t.latency.mean_us, t.latency.max_us);
  // One exchange at a time: the driver saw exactly one frame each way per exchange.
  EXPECT_EQ(r.nic.rx_frames, exchanges);
  EXPECT_EQ(r.nic.tx_frames, exchanges);
  EXPECT_EQ(r.iommu.faults, 0u);
}

// On two shared cores a starved thread can hold one exchange for a long time: generous timeouts, so that these
// tests judge correctness, not the machine's load.
constexpr double kPatientTimeout = 10;

TEST(RequestResponse, InProcessEveryRoundTripTimed) {
  for (size_t size : {60u, 1514u}) {
    auto c = e1000_session("inproc", 2000, size);
    c.traffic.exchange_timeout_s = kPatientTimeout;
    auto r = run_nic_session(c);
    expect_every_exchange_timed(r, 2000, size);
  }
}

TEST(RequestResponse, DomainProcessEveryRoundTripTimed) {
  for (size_t size : {60u, 1514u}) {
    auto c = e1000_session("process", 2000, size);
    c.traffic.exchange_timeout_s = kPatientTimeout;
    auto r = run_nic_session(c);
    expect_every_exchange_timed(r, 2000, size);
    EXPECT_NE(r.domain_pid, r.supervisor_pid);
  }
}

// A driver killed in mid-exchange: the exchange in flight times out and is counted, never timed as good; the run
// goes on with the restarted driver and ends.
TEST(RequestResponse, AnExchangeLostWithARestartIsCountedAndTheRunGoesOn) {
  constexpr uint64_t kExchanges = 4000;
  auto c = e1000_session("process", kExchanges, 0);
  c.kill_after_s = 0.2;
  c.traffic.exchange_timeout_s = 0.5;
  auto r = run_nic_session(c);
  ASSERT_EQ(r.recoveries.size(), 1u) << r.error;
  EXPECT_TRUE(r.recoveries[0].ok) << r.recoveries[0].error;
  EXPECT_TRUE(r.ok()) << r.error;
  const TrafficResult& t = r.traffic;
  EXPECT_FALSE(t.stalled);
  EXPECT_EQ(t.errors(), 0u);
  EXPECT_EQ(t.rx.sent, kExchanges);
  // Each exchange either completed (one sample) or timed out; at most the one in flight at the kill, and one
  // begun while the recovery was under way, were lost.
  EXPECT_EQ(t.latency.samples + t.exchanges_lost, kExchanges);
  EXPECT_EQ(t.rtt_ns.size(), t.latency.samples);
  EXPECT_LE(t.exchanges_lost, 2u);
  EXPECT_GT(t.latency.samples, kExchanges - 3);
  // A sample is never taken without both its frames verified.
  EXPECT_GE(t.tx.verified, t.latency.samples);
  EXPECT_LE(t.latency.p99_us, t.latency.max_us);
}

}  // namespace
}  // namespace side::supervisor
