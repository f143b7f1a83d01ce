// The machine as a domain sees it: config space and BAR accesses validated, DMA only through mappings, and a DMA
// the IOMMU refuses attributed to the domain's driver.
#include "supervisor/machine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "domain/layout.h"
#include "support/memory_domain.h"

namespace side::supervisor {
namespace {

using RecordingDomain = side::testing::MemoryDomain;

constexpr uint64_t kBase = domain::kArenaPhysBase;
constexpr uint32_t kTctl = 0x400, kTdbal = 0x3800, kTdbah = 0x3804, kTdlen = 0x3808, kTdh = 0x3810, kTdt = 0x3818;

class MachineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = machine.add_device(*side::devices::find_device_model("e1000"));
    ASSERT_TRUE(d);
    dev = *d;
    machine.nic(dev)->set_frame_sink([this](std::span<const uint8_t> f) { frames.emplace_back(f.begin(), f.end()); });
    ASSERT_TRUE(machine.config_write(dev, 4, 2, 0x6));  // memory decode + bus master, as pci_enable_device does
  }
  void start_tx(uint64_t ring) {
    ASSERT_TRUE(machine.bar_write(dev, 0, kTdbal, 4, ring & 0xffffffff));
    ASSERT_TRUE(machine.bar_write(dev, 0, kTdbah, 4, ring >> 32));
    ASSERT_TRUE(machine.bar_write(dev, 0, kTdlen, 4, 8 * 16));
    ASSERT_TRUE(machine.bar_write(dev, 0, kTdh, 4, 0));
    ASSERT_TRUE(machine.bar_write(dev, 0, kTdt, 4, 0));
    ASSERT_TRUE(machine.bar_write(dev, 0, kTctl, 4, 0x2));  // TCTL.EN
  }
  void put_descriptor(uint64_t ring, unsigned index, uint64_t buffer, uint16_t len) {
    uint8_t* d = domain.at(ring + 16 * index);
    std::memset(d, 0, 16);
    std::memcpy(d, &buffer, 8);
    std::memcpy(d + 8, &len, 2);
    d[11] = 0x1 | 0x8;  // EOP | RS
  }

  RecordingDomain domain;
  Machine machine{domain};
  uint32_t dev = 0;
  std::vector<std::vector<uint8_t>> frames;
};

TEST_F(MachineTest, FirmwareAssignsBarsAndTheInterruptLine) {
  ASSERT_EQ(domain.attached.size(), 1u);
  const auto& info = domain.attached[0];
  EXPECT_EQ(info.vendor_id, 0x8086u);
  EXPECT_EQ(info.device_id, 0x100eu);
  EXPECT_EQ(info.devfn, 3u << 3);
  EXPECT_EQ(info.bars[0].size, 128u * 1024);
  EXPECT_EQ(info.bars[0].io, 0u);
  EXPECT_EQ(info.bars[1].io, 1u);
  EXPECT_EQ(*machine.config_read(dev, 0x3c, 1), info.irq);
  EXPECT_EQ(*machine.config_read(dev, 0x10, 4) & ~0xfu, info.bars[0].start);
}

TEST_F(MachineTest, AccessesOutsideTheDeviceAreRefused) {
  EXPECT_FALSE(machine.bar_read(dev, 0, 128 * 1024, 4));
  EXPECT_FALSE(machine.bar_read(dev, 0, 128 * 1024 - 2, 4));
  EXPECT_FALSE(machine.bar_read(dev, 5, 0, 4));
  EXPECT_FALSE(machine.bar_read(dev, 0, 0, 3));
  EXPECT_FALSE(machine.bar_read(7, 0, 0, 4));
  EXPECT_FALSE(machine.config_read(dev, 256, 4));
  EXPECT_FALSE(machine.config_read(dev, 2, 4));  // misaligned
  EXPECT_EQ(machine.dma_map(9, kBase, 4096, SIDE_DMA_TO_DEVICE), -ENODEV);
}

TEST_F(MachineTest, MappedDescriptorsAndBuffersTransmit) {
  const uint64_t ring = kBase + 0x10000, buffer = kBase + 0x20000;
  ASSERT_EQ(machine.dma_map(dev, ring, 8 * 16, SIDE_DMA_BIDIRECTIONAL), 0);
  ASSERT_EQ(machine.dma_map(dev, buffer, 64, SIDE_DMA_TO_DEVICE), 0);
  for (int i = 0; i < 64; ++i) domain.at(buffer)[i] = static_cast<uint8_t>(i);
  start_tx(ring);
  put_descriptor(ring, 0, buffer, 64);
  ASSERT_TRUE(machine.bar_write(dev, 0, kTdt, 4, 1));
  ASSERT_EQ(frames.size(), 1u);
  ASSERT_EQ(frames[0].size(), 64u);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(frames[0][i], i);
  EXPECT_TRUE(domain.reported.empty());
}

TEST_F(MachineTest, AnUnmappedBufferIsAnIommuFaultOfTheDriver) {
  const uint64_t ring = kBase + 0x10000, buffer = kBase + 0x30000;  // the buffer is never mapped
  ASSERT_EQ(machine.dma_map(dev, ring, 8 * 16, SIDE_DMA_BIDIRECTIONAL), 0);
  start_tx(ring);
  put_descriptor(ring, 0, buffer, 64);
  ASSERT_TRUE(machine.bar_write(dev, 0, kTdt, 4, 1));
  EXPECT_TRUE(frames.empty());  // never carried out
  EXPECT_GE(machine.iommu(dev).counters().faults_unmapped, 1u);
  ASSERT_FALSE(domain.reported.empty());
  EXPECT_EQ(domain.reported[0].first, SIDE_FAULT_IOMMU);
  EXPECT_NE(domain.reported[0].second.find("refused"), std::string::npos) << domain.reported[0].second;
}

TEST_F(MachineTest, AnUnmappedRingIsAnIommuFaultOfTheDriver) {
  start_tx(kBase + 0x50000);
  ASSERT_TRUE(machine.bar_write(dev, 0, kTdt, 4, 1));
  EXPECT_TRUE(frames.empty());
  ASSERT_FALSE(domain.reported.empty());
  EXPECT_EQ(domain.reported[0].first, SIDE_FAULT_IOMMU);
}

// A device kind the machine has never heard of plugs into the bus through the model table's interface alone: the
// firmware gives it its BARs and interrupt line, accesses reach it, its timers run, recovery resets it.
class ScratchDevice final : public pci::PciDevice {
 public:
  static pci::Identity identity() {
    pci::Identity id;
    id.vendor_id = 0x1af4;
    id.device_id = 0x10ff;
    id.class_code = 0xff0000;
    return id;
  }
  static std::array<pci::BarSpec, pci::kNumBars> bars() {
    std::array<pci::BarSpec, pci::kNumBars> b{};
    b[0] = {pci::BarKind::kMemory32, 4096, false};
    return b;
  }
  explicit ScratchDevice(const pci::DeviceContext& c, std::chrono::milliseconds built_in = {})
      : PciDevice(identity(), bars()), context_(c) {
    context_.arm_timer(context_.now_ns());  // due at once
    std::this_thread::sleep_for(built_in);  // the timer thread fires before the machine has this device
  }
  uint64_t bar_read(int, uint64_t offset, unsigned) override { return offset < 8 ? scratch_ : ~uint64_t{0}; }
  void bar_write(int, uint64_t offset, unsigned, uint64_t value) override {
    if (offset < 8) scratch_ = value;
    set_irq_request(value != 0);
  }
  void reset() override {
    reset_config();
    scratch_ = 0;
    ++resets;
  }
  void service_timers() override { timer_runs.fetch_add(1); }

  std::atomic<unsigned> timer_runs{0};
  unsigned resets = 0;

 private:
  pci::DeviceContext context_;
  uint64_t scratch_ = 0;
};

TEST(MachineBus, AnyPciDeviceModelPlugsIn) {
  RecordingDomain domain;
  Machine machine{domain};
  ScratchDevice* made = nullptr;
  devices::DeviceModel model{"scratch", "a register and an interrupt", ScratchDevice::identity(),
                             [&](const pci::DeviceContext& c, const devices::DeviceOptions&) {
                               auto d = std::make_unique<ScratchDevice>(c);
                               made = d.get();
                               return std::unique_ptr<pci::PciDevice>(std::move(d));
                             }};
  auto dev = machine.add_device(model);
  ASSERT_TRUE(dev) << dev.error().message;
  ASSERT_NE(made, nullptr);
  ASSERT_EQ(domain.attached.size(), 1u);
  EXPECT_EQ(domain.attached[0].vendor_id, 0x1af4u);
  EXPECT_EQ(domain.attached[0].device_id, 0x10ffu);
  EXPECT_EQ(domain.attached[0].bars[0].size, 4096u);
  EXPECT_EQ(machine.nic(*dev), nullptr);  // not a network device
  EXPECT_EQ(machine.nic_tx_packets(), 0u);

  ASSERT_TRUE(machine.config_write(*dev, pci::kCommand, 2, pci::kCommandMemory));
  ASSERT_TRUE(machine.bar_write(*dev, 0, 0, 8, 0x1234));
  auto v = machine.bar_read(*dev, 0, 0, 8);
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 0x1234u);
  EXPECT_FALSE(machine.bar_read(*dev, 0, 4096, 4));  // outside its BAR
  {
    std::lock_guard lock(domain.mu);
    ASSERT_FALSE(domain.irqs.empty());
    EXPECT_EQ(domain.irqs[0], domain.attached[0].irq);
  }
  for (int i = 0; i < 2000 && made->timer_runs.load() == 0; ++i)  // 10 s at most: a loaded sanitizer run
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GT(made->timer_runs.load(), 0u);

  machine.quiesce();
  EXPECT_EQ(made->resets, 1u);
  machine.rebind(domain.arena_base(), domain.arena_size());
  // The firmware's assignment is back after the reset cleared it.
  EXPECT_EQ(machine.device(*dev).config().bar_address(0), domain.attached[0].bars[0].start);
}

TEST(MachineBus, ATimerArmedWhileTheModelIsBuiltIsNotLost) {
  RecordingDomain domain;
  Machine machine{domain};
  ScratchDevice* made = nullptr;
  devices::DeviceModel model{"scratch", "slow to build", ScratchDevice::identity(),
                             [&](const pci::DeviceContext& c, const devices::DeviceOptions&) {
                               auto d = std::make_unique<ScratchDevice>(c, std::chrono::milliseconds(50));
                               made = d.get();
                               return std::unique_ptr<pci::PciDevice>(std::move(d));
                             }};
  ASSERT_TRUE(machine.add_device(model));
  for (int i = 0; i < 2000 && made->timer_runs.load() == 0; ++i)  // 10 s at most: a loaded sanitizer run
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_GT(made->timer_runs.load(), 0u);
}

}  // namespace
}  // namespace side::supervisor
