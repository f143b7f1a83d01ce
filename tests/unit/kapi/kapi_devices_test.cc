// The kernel-API layer's deferred work (timers, workqueues) and device services (PCI, DMA, interrupts), through the
// project's test modules; the device is the supervisor's emulated 82540EM.
#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "domain/domain.h"
#include "kapi/side_host.h"
#include "msi_test_device.h"
#include "supervisor/driver_domain.h"
#include "supervisor/machine.h"
#include "test_supervised_domain.h"

namespace {

// A domain on real time (the modules wait for timers and interrupts with msleep), with its log captured.
class RealTimeDomain : public side::testing::SupervisedDomain {
 public:
  RealTimeDomain() : SupervisedDomain(SIDE_TEST_MODULES_DIR, /*virtual_time=*/false) {}
};

std::string module(const std::string& name) {
  return std::string(SIDE_TEST_MODULES_DIR) + "/" + name + ".ko";
}

TEST(KapiDeferred, TimersAndWorkqueues) {
  RealTimeDomain d;
  auto m = d->load({module("side_test_deferred")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_deferred: ok work a=2 b=0 delayed d=1 e=0")) << d.log();
  EXPECT_TRUE(d.logged("on cpu 1")) << d.log();
  EXPECT_TRUE(d->faults().empty());
}

struct DeviceRun {
  bool probed = false;
  std::string error;
};

DeviceRun probe_test_device(RealTimeDomain& d, side::supervisor::Machine& machine, const std::string& params) {
  DeviceRun run;
  auto m = d->load({module("side_test_pcidev"), params});
  if (!m) {
    run.error = m.error().message;
    return run;
  }
  auto dev = machine.add_device(*side::devices::find_device_model("e1000"));
  if (!dev) {
    run.error = dev.error().message;
    return run;
  }
  auto pdev = d->probe(*dev);
  if (!pdev) {
    run.error = pdev.error().message;
    return run;
  }
  run.probed = true;
  if (auto s = d->remove(*pdev); !s) run.error = s.error().message;
  return run;
}

TEST(KapiDevices, PciDmaAndInterrupts) {
  RealTimeDomain d;
  side::supervisor::Machine machine(*d);
  d->connect(&machine);
  auto run = probe_test_device(d, machine, "");
  EXPECT_TRUE(run.probed) << run.error << d.log();
  EXPECT_TRUE(d.logged("side_test_pcidev: ok")) << d.log();
  EXPECT_TRUE(d.logged("irq delivered, held while disabled, replayed on enable")) << d.log();
  // The arena lies above 16 MiB: a 24-bit mask cannot reach a kmalloc buffer.
  EXPECT_TRUE(d.logged("map beyond mask refused")) << d.log();
  EXPECT_TRUE(d.logged("DMA addr 0x")) << d.log();
  EXPECT_TRUE(d->faults().empty()) << d.log();
  // Everything the probe mapped it unmapped.
  EXPECT_EQ(machine.dma(0).live_mappings(), 0u);
  d->shutdown();
}

TEST(KapiDevices, FreeingAnUnrequestedIrqIsAFault) {
  RealTimeDomain d;
  side::supervisor::Machine machine(*d);
  d->connect(&machine);
  auto run = probe_test_device(d, machine, "fault=1");
  EXPECT_FALSE(run.probed);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u) << d.log();
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_BAD_ARGUMENT);
  EXPECT_NE(faults[0].message.find("Trying to free already-free IRQ"), std::string::npos) << faults[0].message;
  EXPECT_NE(faults[0].location.find("test_probe"), std::string::npos) << faults[0].location;
  d->shutdown();
}

TEST(KapiDevices, UnmappingWhatIsNotMappedIsAFault) {
  RealTimeDomain d;
  side::supervisor::Machine machine(*d);
  d->connect(&machine);
  auto run = probe_test_device(d, machine, "fault=2");
  EXPECT_FALSE(run.probed);
  auto faults = d->faults();
  ASSERT_EQ(faults.size(), 1u) << d.log();
  EXPECT_EQ(faults[0].kind, SIDE_FAULT_BAD_ARGUMENT);
  EXPECT_NE(faults[0].message.find("unmapping what is not mapped"), std::string::npos) << faults[0].message;
  d->shutdown();
}

// MSI and MSI-X as the kernel offers them, on a function with both capabilities (msi_test_device.h): each mode
// delivers on its own lines, MSI-X vectors stay masked until requested, and the fallbacks and errors are Linux's.
TEST(KapiDevices, MsiAndMsixVectors) {
  RealTimeDomain d;
  side::supervisor::Machine machine(*d);
  d->connect(&machine);
  auto m = d->load({module("side_test_msi")});
  ASSERT_TRUE(m) << m.error().message << d.log();
  auto dev = machine.add_device(side::testing::MsiTestDevice::model());
  ASSERT_TRUE(dev) << dev.error().message;
  auto pdev = d->probe(*dev);
  ASSERT_TRUE(pdev) << pdev.error().message << d.log();
  EXPECT_TRUE(d.logged("side_test_msi: msix 4 msi 1 vectors")) << d.log();
  EXPECT_TRUE(d.logged("masked until requested")) << d.log();
  EXPECT_TRUE(d.logged("side_test_msi: ok msi irq 3")) << d.log();
  EXPECT_TRUE(d.logged("side_test_msi: ok legacy irq 11")) << d.log();
  EXPECT_TRUE(d.logged("side_test_msi: ok\n") || d.logged("side_test_msi: ok")) << d.log();
  EXPECT_FALSE(d.logged("check failed")) << d.log();
  EXPECT_TRUE(d->faults().empty()) << d.log();
  EXPECT_TRUE(d->remove(*pdev));
  d->shutdown();
}

}  // namespace
