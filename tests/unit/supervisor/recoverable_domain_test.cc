// The restart policy (back-off, give-up) and the order of a recovery, with domains that do exactly what each test
// needs of a failing driver: no process, no driver binary, so the timings are the policy's own.
#include "supervisor/recoverable_domain.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "domain/layout.h"
#include "supervisor/machine.h"

namespace side::supervisor {
namespace {

using clock = std::chrono::steady_clock;

// A domain whose driver fails `fault_after` after it starts (never, when zero).
class FailingDomain final : public DriverDomain {
 public:
  explicit FailingDomain(std::chrono::milliseconds fault_after) : fault_after_(fault_after) {}

  std::function<void(domain::Platform*)> on_connect;
  domain::Platform* platform = nullptr;

  const char* isolation() const override { return "test"; }
  int pid() const override { return 0; }
  uint8_t* arena_base() const override { return const_cast<uint8_t*>(arena_.data()); }
  uint64_t arena_size() const override { return arena_.size(); }
  void connect(domain::Platform* p) override {
    if (on_connect) on_connect(p);
    platform = p;
    born_ = clock::now();  // its driver runs from when it takes over (a spare waits idle before that)
  }
  Result<std::string> load(const domain::LoadRequest&) override { return std::string("failing_driver"); }
  // Every operation succeeds (with zeroed data) but fault injection; a probe's token is the device number + 1.
  Result<ipc::ControlAnswer> transact(const ipc::ControlRequest& r) override {
    ipc::ControlAnswer a;
    ipc::visit_message(ipc::ControlOps{}, r.head.type, [&](auto op) {
      using Op = decltype(op);
      if constexpr (requires { typename Op::Reply::Type; }) a.payload.assign(sizeof(typename Op::Reply::Type), 0);
    });
    if (r.head.type == SIDE_MSG_PROBE) {
      const uint64_t token = r.head.body[0] + 1;
      std::memcpy(a.payload.data(), &token, sizeof token);
    }
    if (r.head.type == SIDE_MSG_INJECT) a.status = -1;
    return a;
  }
  void report_fault(int, const std::string&) override { reported_ = true; }
  void raise_irq(uint32_t) override {}
  bool submit_tx(uint64_t, std::span<const uint8_t>, const side_tx_offload& = {}) override { return true; }
  bool faulty() const override {
    return reported_.load() || (fault_after_.count() > 0 && clock::now() - born_ >= fault_after_);
  }
  std::vector<domain::FaultReport> faults() const override {
    if (!faulty()) return {};
    domain::FaultReport r;
    r.kind = SIDE_FAULT_BUG;
    r.kind_name = domain::fault_kind_name(r.kind);
    r.message = "BUG right after start";
    return {r};
  }
  std::optional<DomainCounters> counters() const override { return std::nullopt; }
  void shutdown() override {}
  Status kill() override {
    reported_ = true;
    return {};
  }
  void fail() { reported_ = true; }

 private:
  std::chrono::milliseconds fault_after_;
  clock::time_point born_ = clock::now();
  std::atomic<bool> reported_{false};
  std::vector<uint8_t> arena_ = std::vector<uint8_t>(64 * 4096);
};

RecoverableDomain::Factory failing_after(std::chrono::milliseconds ms) {
  return [ms](unsigned) -> Result<std::unique_ptr<DriverDomain>> {
    return std::unique_ptr<DriverDomain>(std::make_unique<FailingDomain>(ms));
  };
}

TEST(RecoveryPolicy, ADriverThatFailsAfterEveryStartIsGivenUpOnWithGrowingBackOff) {
  RecoveryPolicy policy;  // the default: what `side run` uses
  auto rd = RecoverableDomain::start(failing_after(std::chrono::milliseconds(5)), policy);
  ASSERT_TRUE(rd);
  ASSERT_TRUE((*rd)->load({"failing_driver", "", false}));
  const auto t0 = clock::now();
  while (!(*rd)->gave_up() && clock::now() - t0 < std::chrono::seconds(20)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE((*rd)->gave_up()) << "still restarting after 20 s";
  const auto recoveries = (*rd)->recoveries();
  // Restarts up to the burst, then no more.
  ASSERT_EQ(recoveries.size(), policy.max_restarts);
  std::string delays;
  for (size_t i = 0; i < recoveries.size(); ++i) {
    delays += " " + std::to_string(recoveries[i].backoff_ms);
    const double expected = std::min(policy.backoff_max_ms, policy.backoff_start_ms * double(1u << i));
    EXPECT_EQ(recoveries[i].backoff_policy_ms, expected) << "restart " << i;
    EXPECT_GE(recoveries[i].backoff_ms, expected * 0.95) << "restart " << i;
    // (A sleep is never shorter than asked, so the lower bound proves the doubling; the upper one allows a loaded
    // machine's scheduling delays.)
    EXPECT_LT(recoveries[i].backoff_ms, expected + 250) << "restart " << i;
  }
  std::printf("measured back-off before each restart (ms):%s\n", delays.c_str());
  const std::string why = (*rd)->give_up_message();
  EXPECT_NE(why.find("failing_driver"), std::string::npos) << why;
  EXPECT_NE(why.find(std::to_string(policy.max_restarts) + " restarts"), std::string::npos) << why;
  EXPECT_NE(why.find("BUG right after start"), std::string::npos) << why;
  EXPECT_TRUE((*rd)->faulty());
  // Given up: no restart happens any more.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ((*rd)->recoveries().size(), policy.max_restarts);
}

// Restarts that take longer than window_s / max_restarts (a slow probe, a loaded machine, or just the back-off once
// it has grown) never put max_restarts into one window: the driver used to be restarted forever. Here the back-off
// alone spaces the restarts 100, 200, 200... ms apart, never three within 0.3 s.
TEST(RecoveryPolicy, ADriverThatFailsAfterEverySlowRestartIsStillGivenUpOn) {
  RecoveryPolicy policy;
  policy.max_restarts = 3;
  policy.window_s = 0.3;
  policy.backoff_start_ms = 100;
  policy.backoff_max_ms = 200;
  auto rd = RecoverableDomain::start(failing_after(std::chrono::milliseconds(5)), policy);
  ASSERT_TRUE(rd);
  ASSERT_TRUE((*rd)->load({"failing_driver", "", false}));
  const auto t0 = clock::now();
  while (!(*rd)->gave_up() && clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE((*rd)->gave_up()) << "still restarting after 5 s: " << (*rd)->recoveries().size() << " restarts";
  EXPECT_EQ((*rd)->recoveries().size(), policy.max_restarts);
  const std::string why = (*rd)->give_up_message();
  EXPECT_NE(why.find("after 3 restarts without running 30 s healthy"), std::string::npos) << why;
}

TEST(RecoveryPolicy, TheBackOffStartsAgainAfterTheDriverRanHealthy) {
  RecoveryPolicy policy;
  policy.backoff_start_ms = 50;
  policy.healthy_s = 0.1;  // the driver runs 200 ms between faults: healthy each time
  policy.max_restarts = 4;
  auto rd = RecoverableDomain::start(failing_after(std::chrono::milliseconds(200)), policy);
  ASSERT_TRUE(rd);
  const auto t0 = clock::now();
  while ((*rd)->recoveries().size() < 3 && clock::now() - t0 < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto recoveries = (*rd)->recoveries();
  ASSERT_GE(recoveries.size(), 3u);
  for (const auto& r : recoveries) {
    EXPECT_EQ(r.backoff_policy_ms, policy.backoff_start_ms);  // not doubled
    EXPECT_GE(r.backoff_ms, policy.backoff_start_ms * 0.95);
  }
}

TEST(RecoveryPolicy, DeliberateFaultsAreAllRestartedWithoutDelay) {
  auto rd =
      RecoverableDomain::start(failing_after(std::chrono::milliseconds(0)), RecoveryPolicy::for_deliberate_faults(30));
  ASSERT_TRUE(rd);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE((*rd)->kill());
    ASSERT_TRUE((*rd)->wait_recovered(2000));
    // The restart is done once the generation moved on.
    const auto t0 = clock::now();
    while ((*rd)->generation() < unsigned(i + 1) && clock::now() - t0 < std::chrono::seconds(2)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_EQ((*rd)->generation(), unsigned(i + 1));
  }
  EXPECT_FALSE((*rd)->gave_up());
  for (const auto& r : (*rd)->recoveries()) EXPECT_LT(r.backoff_ms, 1.0);
}

TEST(RecoveryPolicy, ShutdownDuringALongBackOffIsPrompt) {
  RecoveryPolicy policy;
  policy.backoff_start_ms = 60'000;
  policy.backoff_max_ms = 60'000;
  auto rd = RecoverableDomain::start(failing_after(std::chrono::milliseconds(1)), policy);
  ASSERT_TRUE(rd);
  // The first restart is waiting its back-off.
  for (int i = 0; i < 2000 && !(*rd)->recovering(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE((*rd)->recovering());
  const auto t0 = clock::now();
  (*rd)->shutdown();
  const double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
  std::printf("shutdown during a back-off took %.1f ms\n", ms);
  EXPECT_LT(ms, 1000);
}

// Recovery clears the old generation's device state before the new generation is connected: at the moment it is
// connected, nothing the old one mapped can be reached by the device.
TEST(RecoveryOrdering, OldMappingsAreUnreachableWhenTheNewDomainIsConnected) {
  FailingDomain* gen0 = nullptr;
  bool checked = false, old_page_reachable = true;
  uint64_t live_at_connect = ~0ull;
  Machine* machine_ptr = nullptr;
  const uint64_t iova = domain::kArenaPhysBase + 0x3000;
  auto factory = [&](unsigned generation) -> Result<std::unique_ptr<DriverDomain>> {
    auto d = std::make_unique<FailingDomain>(std::chrono::milliseconds(0));
    if (generation == 0) {
      gen0 = d.get();
    } else {
      d->on_connect = [&](domain::Platform*) {
        checked = true;
        old_page_reachable = static_cast<bool>(machine_ptr->iommu(0).translate(iova, iommu::Direction::kDeviceWrite));
        live_at_connect = machine_ptr->dma(0).live_mappings();
      };
    }
    return std::unique_ptr<DriverDomain>(std::move(d));
  };
  auto rd = RecoverableDomain::start(factory, RecoveryPolicy::for_deliberate_faults(4));
  ASSERT_TRUE(rd);
  RecoverableDomain& domain = **rd;
  Machine machine(domain);
  machine_ptr = &machine;
  domain.set_machine(&machine);
  domain.connect(&machine);
  ASSERT_TRUE(machine.add_device(*side::devices::find_device_model("e1000")));
  // Generation 0 maps a receive buffer: the device may write it.
  ASSERT_EQ(gen0->platform->dma_map(0, iova, 2048, SIDE_DMA_FROM_DEVICE), 0);
  ASSERT_TRUE(machine.iommu(0).translate(iova, iommu::Direction::kDeviceWrite));
  gen0->fail();
  const auto t0 = clock::now();
  while (domain.generation() < 1 && clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(domain.wait_recovered(5000));
  ASSERT_TRUE(checked) << "generation 1 was never connected";
  EXPECT_FALSE(old_page_reachable) << "generation 0's buffer was still open to the device when generation 1 came";
  EXPECT_EQ(live_at_connect, 0u);
  domain.shutdown();
}

// The host side, as far as carrier changes go.
class CarrierRecorder final : public domain::Platform {
 public:
  Result<uint32_t> config_read(uint32_t, uint32_t, unsigned) override { return 0u; }
  Status config_write(uint32_t, uint32_t, unsigned, uint32_t) override { return {}; }
  Result<uint64_t> bar_read(uint32_t, int, uint64_t, unsigned) override { return uint64_t{0}; }
  Status bar_write(uint32_t, int, uint64_t, unsigned, uint64_t) override { return {}; }
  int dma_map(uint32_t, uint64_t, uint64_t, int) override { return 0; }
  int dma_unmap(uint32_t, uint64_t, uint64_t, int) override { return 0; }
  int netdev_register(const side_netdev_info&) override { return 0; }
  void netdev_unregister(uint64_t) override {}
  void netdev_carrier(uint64_t token, bool on) override {
    std::lock_guard lock(mu_);
    events_.push_back(std::string(on ? "on " : "off ") + std::to_string(token));
  }
  void netdev_changed(const side_netdev_info&) override {}
  void netdev_tx_wake(uint64_t, uint32_t) override {}
  void netdev_rx(uint64_t, std::span<const uint8_t>, uint32_t) override {}
  std::string events() {
    std::lock_guard lock(mu_);
    std::string all;
    for (const auto& e : events_) all += (all.empty() ? "" : ", ") + e;
    return all;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> events_;
};

// What a NIC driver does to its network device when it comes up, as Debian's e1000 does: switches its carrier off
// (probe), registers it on device 0, switches the carrier on (open), off (the reset that follows) and, when it finds
// its link, on again.
void bring_up(domain::Platform* p, uint64_t token, bool link) {
  side_netdev_info info{};
  info.token = token;
  info.device = 0;
  info.mtu = 1500;
  p->netdev_carrier(token, false);
  p->netdev_register(info);
  p->netdev_carrier(token, true);
  p->netdev_carrier(token, false);
  if (link) p->netdev_carrier(token, true);
}

// Generation n > 0 brings up network device token 100 + n when it is connected, with its link if `link_back(n)`;
// generation 0 (connected before the host is) is kept in `first`, for the test to bring up.
RecoverableDomain::Factory carrier_driver(FailingDomain** first, std::function<bool(unsigned)> link_back) {
  return [first, link_back](unsigned generation) -> Result<std::unique_ptr<DriverDomain>> {
    auto d = std::make_unique<FailingDomain>(std::chrono::milliseconds(0));
    if (generation == 0) *first = d.get();
    d->on_connect = [generation, link_back](domain::Platform* p) {
      if (generation > 0) bring_up(p, 100 + generation, link_back(generation));
    };
    return std::unique_ptr<DriverDomain>(std::move(d));
  };
}

void fail_and_wait(RecoverableDomain& domain) {
  const unsigned gen = domain.generation();
  ASSERT_TRUE(domain.kill());
  const auto t0 = clock::now();
  while (domain.generation() == gen && clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(domain.wait_recovered(5000));
}

// A restart is not a link change: the host sees the carrier only once, as the first generation reported it, across
// restarts whose drivers switch it off and on again.
TEST(RecoveryCarrier, ARestartedDriverThatComesBackUpIsNoLinkFlapOnTheHost) {
  FailingDomain* first = nullptr;
  auto rd = RecoverableDomain::start(carrier_driver(&first, [](unsigned) { return true; }),
                                     RecoveryPolicy::for_deliberate_faults(4));
  ASSERT_TRUE(rd);
  CarrierRecorder host;
  (*rd)->connect(&host);
  bring_up(first->platform, 100, true);
  EXPECT_EQ(host.events(), "off 100, on 100, off 100, on 100");  // the first bring-up is the host's too
  fail_and_wait(**rd);
  fail_and_wait(**rd);
  EXPECT_EQ((*rd)->generation(), 2u);
  EXPECT_EQ(host.events(), "off 100, on 100, off 100, on 100");
  (*rd)->shutdown();
}

// A restarted driver whose link does not come back within the hold: the host sees the carrier go off then.
TEST(RecoveryCarrier, ARestartedDriverWithoutLinkTurnsTheHostCarrierOffAfterTheHold) {
  FailingDomain* first = nullptr;
  auto rd = RecoverableDomain::start(carrier_driver(&first, [](unsigned generation) { return generation == 0; }),
                                     RecoveryPolicy::for_deliberate_faults(4));
  ASSERT_TRUE(rd);
  CarrierRecorder host;
  (*rd)->connect(&host);
  bring_up(first->platform, 100, true);
  fail_and_wait(**rd);
  EXPECT_EQ(host.events(), "off 100, on 100, off 100, on 100");  // held
  const auto t0 = clock::now();
  while (host.events() == "off 100, on 100, off 100, on 100" && clock::now() - t0 < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(host.events(), "off 100, on 100, off 100, on 100, off 100");
  EXPECT_GE(clock::now() - t0, std::chrono::milliseconds(2500));
  (*rd)->shutdown();
}

// Given up on: the device stays down, and the host sees no carrier.
TEST(RecoveryCarrier, AGivenUpDriverLeavesTheHostWithoutCarrier) {
  FailingDomain* first = nullptr;
  RecoveryPolicy policy;
  policy.max_restarts = 0;
  auto rd = RecoverableDomain::start(carrier_driver(&first, [](unsigned) { return true; }), policy);
  ASSERT_TRUE(rd);
  CarrierRecorder host;
  (*rd)->connect(&host);
  bring_up(first->platform, 100, true);
  first->fail();
  const auto t0 = clock::now();
  while (!(*rd)->gave_up() && clock::now() - t0 < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE((*rd)->gave_up());
  EXPECT_EQ(host.events(), "off 100, on 100, off 100, on 100, off 100");
  (*rd)->shutdown();
}

}  // namespace
}  // namespace side::supervisor
