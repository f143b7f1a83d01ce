// The kernel functions the classic Debian NIC drivers import beyond e1000's (block I/O copies, checksum copy, RCU,
// resource regions, DMA pools, devres, MSI, firmware, MAC helpers, power states), exercised by a test module's
// probe on the supervisor's emulated 82540EM; and the driver bugs among their misuses that are detected faults.
#include <gtest/gtest.h>

#include <string>

#include "kapi/side_host.h"
#include "supervisor/machine.h"
#include "test_supervised_domain.h"

namespace {

class RealTimeDomain : public side::testing::SupervisedDomain {
 public:
  RealTimeDomain() : SupervisedDomain(SIDE_TEST_MODULES_DIR, /*virtual_time=*/false) {}
};

std::string module(const std::string& name) {
  return std::string(SIDE_TEST_MODULES_DIR) + "/" + name + ".ko";
}

struct Run {
  bool probed = false;
  std::string error;
};

// Loads the test module with `params`, probes it on an 82540EM and removes it again when the probe succeeded.
Run probe_and_remove(RealTimeDomain& d, side::supervisor::Machine& machine, const std::string& params) {
  Run run;
  auto m = d->load({module("side_test_nicapi"), params});
  if (!m) return {false, m.error().message};
  auto dev = machine.add_device(*side::devices::find_device_model("e1000"));
  if (!dev) return {false, dev.error().message};
  auto pdev = d->probe(*dev);
  if (!pdev) return {false, pdev.error().message};
  run.probed = true;
  if (auto s = d->remove(*pdev); !s) run.error = s.error().message;
  return run;
}

TEST(KapiNicApi, EveryPartBehavesAsTheKernels) {
  RealTimeDomain d;
  side::supervisor::Machine machine(*d);
  d->connect(&machine);
  auto run = probe_and_remove(d, machine, "");
  EXPECT_TRUE(run.probed) << run.error << d.log();
  for (const char* part : {"io", "csum", "rcu", "regions", "dma_pool", "netdev", "platform", "e1000e", "devres"}) {
    EXPECT_TRUE(d.logged(std::string("side_test_nicapi: ok ") + part)) << part << "\n" << d.log();
  }
  EXPECT_EQ(d.count("side_test_nicapi: ok"), 10u) << d.log();  // the nine parts and the end of the probe
  // A release of what was never requested is the kernel's warning, not a fault.
  EXPECT_TRUE(d.logged("Trying to free nonexistent resource")) << d.log();
  EXPECT_TRUE(d.logged("Direct firmware load for e100/d101m_ucode.bin failed with error -2")) << d.log();
  // After remove(), devres released everything newest first: the first action ran last, with the managed enable
  // undone; the managed coherent buffer and every pool page are unmapped.
  EXPECT_TRUE(d.logged("side_test_nicapi: devres released, enable count 0")) << d.log();
  EXPECT_EQ(machine.dma(0).live_mappings(), 0u);
  EXPECT_TRUE(d->faults().empty()) << d.log();
  d->shutdown();
}

TEST(KapiNicApi, AFailedProbeReleasesItsManagedResources) {
  RealTimeDomain d;
  side::supervisor::Machine machine(*d);
  d->connect(&machine);
  auto run = probe_and_remove(d, machine, "fail_probe=1");
  EXPECT_FALSE(run.probed);
  EXPECT_TRUE(d.logged("side_test_nicapi: ok devres")) << d.log();
  EXPECT_TRUE(d.logged("side_test_nicapi: devres released, enable count 0")) << d.log();
  EXPECT_FALSE(d.logged("side_test_nicapi: remove")) << d.log();
  EXPECT_EQ(machine.dma(0).live_mappings(), 0u);
  EXPECT_TRUE(d->faults().empty()) << d.log();
  d->shutdown();
}

struct FaultCase {
  const char* params;
  int kind;
  const char* message;
};

class KapiNicApiFault : public ::testing::TestWithParam<FaultCase> {};

TEST_P(KapiNicApiFault, IsADetectedDriverFault) {
  RealTimeDomain d;
  side::supervisor::Machine machine(*d);
  d->connect(&machine);
  auto run = probe_and_remove(d, machine, GetParam().params);
  EXPECT_FALSE(run.probed);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u) << d.log();
  EXPECT_EQ(faults[0].kind, GetParam().kind);
  EXPECT_NE(faults[0].message.find(GetParam().message), std::string::npos) << faults[0].message;
  EXPECT_NE(faults[0].location.find("side_test_nicapi"), std::string::npos) << faults[0].location;
  d->shutdown();
}

INSTANTIATE_TEST_SUITE_P(
    Misuses, KapiNicApiFault,
    ::testing::Values(FaultCase{"fault=1", SIDE_FAULT_BAD_ARGUMENT, "dma_pool_free nicapi"},
                      FaultCase{"fault=2", SIDE_FAULT_BAD_ARGUMENT, "rcu_read_unlock() without rcu_read_lock()"},
                      FaultCase{"fault=3", SIDE_FAULT_DEADLOCK, "synchronize_rcu() in an RCU read-side critical"},
                      FaultCase{"fault=4", SIDE_FAULT_BAD_ARGUMENT, "devm_kfree of"}));

}  // namespace
