// Drivers that never come back (side_test_live_hang) in real domain processes: each hang is a fault within its
// bound, measured on the supervisor's clock, even though the domain's own busy stamps are not consulted; recovery
// replaces the domain; and tearing down a hung domain takes well under two seconds.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "supervisor/domain_process.h"
#include "supervisor/machine.h"
#include "supervisor/recoverable_domain.h"

namespace side::supervisor {
namespace {

using clock = std::chrono::steady_clock;

double ms_since(clock::time_point t) {
  return std::chrono::duration<double, std::milli>(clock::now() - t).count();
}

DomainProcessConfig hang_config() {
  DomainProcessConfig pc;
  pc.kapi_path = SIDE_TEST_KAPI;
  pc.symvers_path = SIDE_TEST_SYMVERS;
  pc.modules_dir = SIDE_TEST_MODULES_DIR;
  pc.executable = SIDE_BINARY;
  // The domain's busy_since stamps are ignored, as if it zeroed them: only the supervisor's own clock judges.
  pc.liveness.stamp_atomic_ms = 0;
  pc.liveness.stamp_process_ms = 0;
  // A hung probe or open is waited for to the end of its bound: a shorter one than a loaded machine's restart
  // needs (the test module's probe takes milliseconds), so the tests wait 2 s (8 under the sanitizers), not 5 (20).
  pc.liveness.probe_ms = 2000 * LivenessBounds::kSlow;
  return pc;
}

bool has_fault(const std::vector<domain::FaultReport>& faults, int kind, const std::string& text) {
  for (const auto& f : faults) {
    if (f.kind == kind && f.message.find(text) != std::string::npos) return true;
  }
  return false;
}

std::string all_faults(const std::vector<domain::FaultReport>& faults) {
  std::string s;
  for (const auto& f : faults) s += f.kind_name + ": " + f.message + "\n";
  return s;
}

// A domain process with the device probed (unless the probe is what hangs) and, for `open_it`, opened.
struct HungDomain {
  std::unique_ptr<DomainProcess> domain;
  std::unique_ptr<Machine> machine;
  uint32_t device = 0;
  uint64_t netdev = 0;
};

HungDomain start_hung(const std::string& hang, bool probe_it, bool open_it) {
  HungDomain h;
  auto d = DomainProcess::start(hang_config(), {"side_test_live_hang", "hang=" + hang});
  EXPECT_TRUE(d) << (d ? "" : d.error().message);
  if (!d) return h;
  h.domain = std::move(*d);
  h.machine = std::make_unique<Machine>(*h.domain);
  h.domain->connect(h.machine.get());
  auto dev = h.machine->add_device(*side::devices::find_device_model("e1000"));
  EXPECT_TRUE(dev);
  h.device = dev ? *dev : 0;
  if (probe_it) {
    EXPECT_TRUE(h.domain->probe(h.device));
    auto n = h.machine->netdev_of_device(h.device);
    EXPECT_TRUE(n);
    h.netdev = n ? n->info.token : 0;
  }
  if (open_it) {
    EXPECT_TRUE(h.domain->open(h.netdev));
  }
  return h;
}

TEST(Liveness, AProbeThatNeverReturnsIsAHungFaultWithinTheProbeBound) {
  auto h = start_hung("probe", false, false);
  ASSERT_TRUE(h.domain);
  const auto t0 = clock::now();
  auto pdev = h.domain->probe(h.device);
  const double ms = ms_since(t0);
  EXPECT_FALSE(pdev);
  std::printf("probe hang found after %.0f ms (bound %u ms)\n", ms, hang_config().liveness.probe_ms);
  EXPECT_LT(ms, hang_config().liveness.probe_ms + 1000);
  EXPECT_TRUE(h.domain->faulty());
  EXPECT_TRUE(has_fault(h.domain->faults(), SIDE_FAULT_HUNG, "probe request")) << all_faults(h.domain->faults());
  // Ended, not left spinning.
  for (int i = 0; i < 500 && h.domain->alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_FALSE(h.domain->alive());
}

TEST(Liveness, AControlRequestNeverAnsweredIsAHungFault) {
  auto h = start_hung("ethtool", true, true);
  ASSERT_TRUE(h.domain);
  const auto t0 = clock::now();
  EXPECT_FALSE(h.domain->ethtool(h.netdev));
  const double ms = ms_since(t0);
  std::printf("unanswered ethtool request found after %.0f ms (bound %u ms)\n", ms, hang_config().liveness.request_ms);
  EXPECT_LT(ms, hang_config().liveness.request_ms + 1000);
  EXPECT_TRUE(has_fault(h.domain->faults(), SIDE_FAULT_HUNG, "ethtool request")) << all_faults(h.domain->faults());
}

TEST(Liveness, AnOpenThatNeverReturnsIsAHungFault) {
  auto h = start_hung("open", true, false);
  ASSERT_TRUE(h.domain);
  const auto t0 = clock::now();
  EXPECT_FALSE(h.domain->open(h.netdev));
  EXPECT_LT(ms_since(t0), hang_config().liveness.probe_ms + 1000);
  EXPECT_TRUE(has_fault(h.domain->faults(), SIDE_FAULT_HUNG, "open request")) << all_faults(h.domain->faults());
}

TEST(Liveness, ATransmitThatNeverReturnsStopsTheHeartbeatAndIsAHungFault) {
  auto h = start_hung("xmit", true, true);
  ASSERT_TRUE(h.domain);
  std::vector<uint8_t> frame(60, 0xab);
  const auto t0 = clock::now();
  ASSERT_TRUE(h.domain->submit_tx(h.netdev, frame));
  while (!h.domain->faulty() && ms_since(t0) < 10'000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const double ms = ms_since(t0);
  std::printf("transmit hang found after %.0f ms (bound %u ms)\n", ms, hang_config().liveness.progress_ms);
  ASSERT_TRUE(h.domain->faulty());
  EXPECT_LT(ms, hang_config().liveness.progress_ms + 1000);
  EXPECT_TRUE(has_fault(h.domain->faults(), SIDE_FAULT_HUNG, "heartbeat")) << all_faults(h.domain->faults());
  // Teardown of the hung domain is prompt: it is asked to exit, then killed.
  const auto t1 = clock::now();
  h.domain->shutdown();
  const double teardown = ms_since(t1);
  std::printf("teardown of a domain hung in ndo_start_xmit: %.0f ms\n", teardown);
  EXPECT_LT(teardown, 5000);  // a hang guard; the figure printed is what counts (exit_ms, then SIGKILL)
}

TEST(Liveness, TeardownDuringAHungRequestIsPrompt) {
  auto h = start_hung("probe", false, false);
  ASSERT_TRUE(h.domain);
  std::thread prober([&] { (void)h.domain->probe(h.device); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto t0 = clock::now();
  h.domain->shutdown();
  prober.join();  // the request in flight ends with the process
  const double ms = ms_since(t0);
  std::printf("teardown with a probe request hanging: %.0f ms\n", ms);
  EXPECT_LT(ms, 5000);
  EXPECT_LT(ms, hang_config().liveness.probe_ms);  // not the request's own timeout
}

// Domain processes of the hanging test driver: the first generation gets `first_params`, later ones none.
RecoverableDomain::Factory hang_factory(std::string first_params) {
  return [first_params](unsigned generation) -> Result<std::unique_ptr<DriverDomain>> {
    auto p = DomainProcess::start(hang_config(), {"side_test_live_hang", generation == 0 ? first_params : ""});
    if (!p) return p.error();
    return std::unique_ptr<DriverDomain>(std::move(*p));
  };
}

// With recovery: the hung generation is faulted within its bound, killed and replaced; the new one works.
TEST(Liveness, RecoveryReplacesADomainHungInTransmit) {
  auto rd = RecoverableDomain::start(hang_factory("hang=xmit"), RecoveryPolicy{});
  ASSERT_TRUE(rd);
  RecoverableDomain& domain = **rd;
  Machine machine(domain);
  domain.set_machine(&machine);
  domain.connect(&machine);
  auto dev = machine.add_device(*side::devices::find_device_model("e1000"));
  ASSERT_TRUE(dev);
  ASSERT_TRUE(domain.probe(*dev));
  auto n = machine.netdev_of_device(*dev);
  ASSERT_TRUE(n);
  ASSERT_TRUE(domain.open(n->info.token));
  std::vector<uint8_t> frame(60, 0xcd);
  const auto t0 = clock::now();
  ASSERT_TRUE(domain.submit_tx(n->info.token, frame));
  while (domain.generation() < 1 && ms_since(t0) < 10'000) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(domain.generation(), 1u) << "not restarted";
  ASSERT_TRUE(domain.wait_recovered(10'000));
  std::printf("hung transmit to restarted driver: %.0f ms\n", ms_since(t0));
  auto recoveries = domain.recoveries();
  ASSERT_FALSE(recoveries.empty());
  EXPECT_TRUE(recoveries.back().ok) << recoveries.back().error;
  EXPECT_EQ(recoveries.back().kind, SIDE_FAULT_HUNG);
  EXPECT_TRUE(domain.stats(n->info.token));  // the new generation answers
  EXPECT_FALSE(domain.gave_up());
  domain.shutdown();
}

// The channel as this process (the supervisor) maps it: the very pages the domain writes into, so writing here is
// what a domain corrupting its rings does.
std::vector<uint8_t*> channel_mappings() {
  std::vector<uint8_t*> out;
  FILE* f = std::fopen("/proc/self/maps", "r");
  char line[512];
  while (f && std::fgets(line, sizeof line, f)) {
    unsigned long long start;
    if (std::strstr(line, "side-channel") && std::sscanf(line, "%llx-", &start) == 1) {
      out.push_back(reinterpret_cast<uint8_t*>(start));
    }
  }
  if (f) std::fclose(f);
  return out;
}

// Where a ring's shared indices are in a channel (the layout is the same in every channel).
template <typename Pick>
size_t ring_offset(Pick pick) {
  std::vector<uint8_t> scratch(ipc::Channel::size_needed() + 64);
  auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch.data()) + 63) & ~uintptr_t{63});
  auto c = ipc::Channel::attach(base, ipc::Channel::size_needed(), true);
  return reinterpret_cast<uint8_t*>(pick(*c).shared()) - base;
}

struct RingCorruption {
  const char* name;
  bool supervisor_produces;  // the transmit ring; otherwise the receive ring (the domain produces it)
};

class BrokenRing : public ::testing::TestWithParam<RingCorruption> {};

// A domain that corrupts a ring's indices, in either direction, is faulted at once and replaced.
TEST_P(BrokenRing, IsAFaultAndRecoveryReplacesTheDomain) {
  const RingCorruption& c = GetParam();
  auto rd = RecoverableDomain::start(hang_factory(""), RecoveryPolicy{});
  ASSERT_TRUE(rd);
  RecoverableDomain& domain = **rd;
  Machine machine(domain);
  domain.set_machine(&machine);
  domain.connect(&machine);
  auto dev = machine.add_device(*side::devices::find_device_model("e1000"));
  ASSERT_TRUE(dev);
  ASSERT_TRUE(domain.probe(*dev));
  // Not opened: no spare domain yet, so the one channel mapped is this domain's.
  auto channels = channel_mappings();
  ASSERT_EQ(channels.size(), 1u);
  const size_t off = c.supervisor_produces ? ring_offset([](ipc::Channel& ch) -> ipc::Ring& { return ch.tx(); })
                                           : ring_offset([](ipc::Channel& ch) -> ipc::Ring& { return ch.rx(); });
  auto* ring = reinterpret_cast<ipc::RingShared*>(channels[0] + off);
  const auto t0 = clock::now();
  if (c.supervisor_produces) {
    ring->tail.store(12345);  // the consumer (the domain) claims frames that were never sent
  } else {
    ring->head.store(54321);  // the producer (the domain) claims frames that do not fit the ring
  }
  while (!domain.recovering() && domain.generation() < 1 && ms_since(t0) < 5000) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double detected_ms = ms_since(t0);
  ASSERT_TRUE(domain.recovering() || domain.generation() == 1) << "not faulted";
  // (Not opened, so no spare was started ahead: the restart starts a process, which takes its time.)
  while (domain.generation() < 1 && ms_since(t0) < 20'000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(domain.generation(), 1u) << "not restarted";
  ASSERT_TRUE(domain.wait_recovered(10'000));
  std::printf("%s ring corrupted: faulted after %.0f ms, restarted after %.0f ms\n", c.name, detected_ms, ms_since(t0));
  EXPECT_LT(detected_ms, 1000);
  const auto recoveries = domain.recoveries();
  ASSERT_FALSE(recoveries.empty());
  EXPECT_EQ(recoveries.front().kind, SIDE_FAULT_PROTOCOL) << recoveries.front().reason;
  EXPECT_TRUE(recoveries.front().ok) << recoveries.front().error;
  domain.shutdown();
}

INSTANTIATE_TEST_SUITE_P(Liveness, BrokenRing,
                         ::testing::Values(RingCorruption{"transmit", true}, RingCorruption{"receive", false}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace side::supervisor
