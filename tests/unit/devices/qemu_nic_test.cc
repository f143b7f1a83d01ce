// The vfio-user client against the real thing: QEMU's e1000 served by a QEMU process side starts. Identity and BARs
// as QEMU reports them, registers through REGION_READ/WRITE, an interrupt cause set by the driver's register write
// arriving as an INTx edge, the device reaching the domain's memory by DMA, and no QEMU process or directory left
// once the device is gone. Also prints what one register round trip costs. Skipped, saying why, when the QEMU with
// the vfio-user server is not built (scripts/build-qemu.sh).
#include "devices/vfio_user/qemu_nic.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include "devices/iommu/iommu.h"
#include "support/qemu.h"

namespace side::vfio_user {
namespace {

using namespace std::chrono_literals;

std::string qemu_path() {
  return side::test_support::built_qemu(SIDE_BUILD_QEMU);
}

struct Sink : pci::InterruptSink {
  std::atomic<int> edges{0};
  void set_irq_level(bool asserted) override { edges += asserted; }
};

// e1000 registers (Intel 8254x manual, section 13).
constexpr uint32_t kStatus = 0x08, kIcr = 0xc0, kIcs = 0xc8, kIms = 0xd0, kRal = 0x5400;

class QemuE1000 : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = qemu_path();
    if (binary_.empty()) GTEST_SKIP() << "QEMU with the vfio-user server is not built: run scripts/build-qemu.sh";
    arena_fd_ = memfd_create("arena", MFD_CLOEXEC);
    ASSERT_EQ(ftruncate(arena_fd_, 1 << 20), 0);
    pci::DeviceContext ctx{mmu_, [] { return uint64_t{0}; }, [](uint64_t) {}};
    ctx.dma_memory = {arena_fd_, 0x10000000, 1 << 20};
    ctx.device_fault = [this](const std::string& why) { faults_.push_back(why); };
    QemuConfig config;
    config.binary = binary_;
    config.device = "e1000";
    config.mac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x57};
    auto nic = QemuNic::create(ctx, config, 0x8086, 0x100e, 2000ms);
    ASSERT_TRUE(nic) << nic.error().message;
    nic_ = std::move(*nic);
    nic_->set_interrupt_sink(&sink_);
  }
  void TearDown() override {
    if (nic_) {
      const pid_t pid = nic_->server_pid();
      nic_.reset();
      EXPECT_NE(::kill(pid, 0), 0) << "QEMU outlived its device";
    }
    if (arena_fd_ >= 0) close(arena_fd_);
  }
  void enable() {
    nic_->config_write(pci::kBar0, 4, 0xfebc0000);
    nic_->config_write(pci::kBar0 + 4, 4, 0xc000);
    nic_->config_write(pci::kCommand, 2, pci::kCommandIo | pci::kCommandMemory | pci::kCommandBusMaster);
  }

  std::string binary_;
  std::vector<uint8_t> arena_ = std::vector<uint8_t>(4096);
  iommu::Iommu mmu_{arena_.data(), arena_.size()};
  int arena_fd_ = -1;
  std::vector<std::string> faults_;
  Sink sink_;
  std::unique_ptr<QemuNic> nic_;
};

TEST_F(QemuE1000, IsTheIntel82540EmWithItsBars) {
  EXPECT_EQ(nic_->config_read(pci::kVendorId, 2), 0x8086u);
  EXPECT_EQ(nic_->config_read(pci::kDeviceId, 2), 0x100eu);
  EXPECT_EQ(nic_->config().bar_spec(0).kind, pci::BarKind::kMemory32);
  EXPECT_EQ(nic_->config().bar_spec(0).size, 128u * 1024);
  EXPECT_EQ(nic_->config().bar_spec(1).kind, pci::BarKind::kIo);
  EXPECT_TRUE(faults_.empty());
}

TEST_F(QemuE1000, RegistersAnswerAndTheMacIsOurs) {
  enable();
  EXPECT_EQ(nic_->bar_read(0, kRal, 4), 0x12005452u) << "RAL holds the MAC side gave QEMU";
  EXPECT_NE(nic_->bar_read(0, kStatus, 4), 0xffffffffu);
  // One register round trip, as the driver's readl pays it.
  std::vector<double> us;
  for (int i = 0; i < 2000; ++i) {
    auto t = std::chrono::steady_clock::now();
    (void)nic_->bar_read(0, kStatus, 4);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t).count());
  }
  std::sort(us.begin(), us.end());
  std::printf("qemu:e1000 register read round trip: median %.1f us, p99 %.1f us\n", us[us.size() / 2],
              us[us.size() * 99 / 100]);
  EXPECT_TRUE(faults_.empty());
}

TEST_F(QemuE1000, InterruptCauseSetByTheDriverArrivesAsAnEdge) {
  enable();
  nic_->bar_write(0, kIms, 4, 0x4);  // link status change
  nic_->bar_write(0, kIcs, 4, 0x4);
  for (int i = 0; i < 400 && sink_.edges.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_GE(sink_.edges.load(), 1);
  EXPECT_NE(nic_->bar_read(0, kIcr, 4) & 0x4, 0u);
}

TEST_F(QemuE1000, KilledQemuIsAFaultAndResetStartsAFreshOne) {
  enable();
  const pid_t first = nic_->server_pid();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(nic_->bar_read(0, kStatus, 4), 0xffffffffu);
  ASSERT_EQ(faults_.size(), 1u);
  nic_->reset();
  EXPECT_NE(nic_->server_pid(), first);
  enable();
  EXPECT_EQ(nic_->bar_read(0, kRal, 4), 0x12005452u);
}

// A driver killed while its device's line was high (the cause raised, its handler never run): QEMU's reset clears
// the cause but not the line, and INTx only signals rising edges, so the next driver would get no interrupt at all.
// The reset sees the line in the PCI status register and starts a fresh QEMU, whose interrupts arrive.
TEST_F(QemuE1000, AResetThatLeavesTheLineHighGetsAFreshServer) {
  enable();
  nic_->bar_write(0, kIms, 4, 0x4);
  nic_->bar_write(0, kIcs, 4, 0x4);  // the line goes high; nobody reads ICR
  for (int i = 0; i < 400 && sink_.edges.load() == 0; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_GE(sink_.edges.load(), 1);
  EXPECT_NE(nic_->config_read(pci::kStatus, 2) & pci::kStatusInterrupt, 0u);
  const pid_t first = nic_->server_pid();
  nic_->reset();
  EXPECT_NE(nic_->server_pid(), first);
  auto counter = [&](const std::string& name) {
    for (const auto& [n, v] : nic_->model_counters()) {
      if (n == name) return v;
    }
    return uint64_t{~0ull};
  };
  EXPECT_EQ(counter("server_stuck_interrupt_lines"), 1u);
  EXPECT_EQ(counter("server_reconnects"), 1u);
  // The next driver's first interrupt arrives.
  enable();
  const int before = sink_.edges.load();
  nic_->bar_write(0, kIms, 4, 0x4);
  nic_->bar_write(0, kIcs, 4, 0x4);
  for (int i = 0; i < 400 && sink_.edges.load() == before; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_GT(sink_.edges.load(), before);
  EXPECT_TRUE(faults_.empty());
}

TEST_F(QemuE1000, AResetWithTheLineLowKeepsTheServer) {
  enable();
  const pid_t first = nic_->server_pid();
  nic_->reset();
  EXPECT_EQ(nic_->server_pid(), first);
}

}  // namespace
}  // namespace side::vfio_user
