// What the virtio modules need of the kernel-API layer and the loader: the layer's new services through a test
// module, an unsupported function as a detected fault, and Debian's virtio_net loaded with every module it needs
// (dependencies first, its transport virtio_pci included), each init run in the domain, then unloaded newest first.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "domain/domain.h"
#include "supervisor/driver_domain.h"
#include "test_supervised_domain.h"

namespace {

std::string module(const std::string& name) {
  return std::string(SIDE_TEST_MODULES_DIR) + "/" + name + ".ko";
}

std::vector<std::string> loaded_names(side::supervisor::InProcessDomain& d) {
  std::vector<std::string> out;
  for (const auto* m : d.domain().modules()) out.push_back(m->name);
  return out;
}

TEST(KapiVirtio, CoreServices) {
  side::testing::SupervisedDomain d;
  auto m = d->load({module("side_test_virtio_core")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("driver core ok (probes 2 removes 2 releases 3)")) << d.log();
  EXPECT_TRUE(d.logged("ida and uevent ok")) << d.log();
  EXPECT_TRUE(d.logged("scatterlists and fragments ok")) << d.log();
  EXPECT_TRUE(d.logged("cpu hotplug state")) << d.log();
  EXPECT_TRUE(d.logged("xdp queue info and ethtool ok")) << d.log();
  EXPECT_TRUE(d.logged("side_test_virtio_core: ok")) << d.log();
  EXPECT_TRUE(d->faults().empty()) << d.log();
  EXPECT_TRUE(d->unload("side_test_virtio_core")) << d.log();
}

TEST(KapiVirtio, UnsupportedCallIsADetectedFault) {
  side::testing::SupervisedDomain d;
  auto m = d->load({module("side_test_virtio_core"), "unsupported=1"});
  ASSERT_FALSE(m);
  const auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u) << d.log();
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_MISSING_SYMBOL);
  EXPECT_NE(faults[0].message.find("dev_open()"), std::string::npos) << faults[0].message;
  EXPECT_NE(faults[0].message.find("failover"), std::string::npos) << faults[0].message;
  EXPECT_NE(faults[0].location.find("side_test_virtio_core"), std::string::npos) << faults[0].location;
}

TEST(KapiVirtio, DebianVirtioNetLoadsWithItsModulesAndUnloadsThem) {
  side::testing::SupervisedDomain d(SIDE_TEST_MODULE_CACHE);
  auto m = d->load({"virtio_net"});
  ASSERT_TRUE(m) << m.error().message << d.log();
  const std::vector<std::string> order = {
      "virtio_ring",           "virtio",     "failover",  "net_failover", "virtio_pci_modern_dev",
      "virtio_pci_legacy_dev", "virtio_pci", "virtio_net"};
  EXPECT_EQ(loaded_names(*d), order);
  EXPECT_TRUE(d->faults().empty()) << d.log();
  ASSERT_TRUE(d->unload("virtio_net")) << d.log();
  EXPECT_TRUE(loaded_names(*d).empty());
  EXPECT_TRUE(d->faults().empty()) << d.log();
}

}  // namespace
