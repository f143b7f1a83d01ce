// The machine as a domain sees it: config space and BAR accesses validated, DMA only through mappings, and a DMA
// the IOMMU refuses attributed to the domain's driver.
#include "supervisor/machine.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <mutex>
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
    auto d = machine.add_e1000({});
    ASSERT_TRUE(d);
    dev = *d;
    machine.e1000(dev).set_frame_sink([this](std::span<const uint8_t> f) { frames.emplace_back(f.begin(), f.end()); });
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

}  // namespace
}  // namespace side::supervisor
