#include <gtest/gtest.h>

#include "devices/pci/config_space.h"
#include "devices/pci/pci_device.h"

namespace side::pci {
namespace {

ConfigSpace make() {
  Identity id{0x8086, 0x100e, 0x8086, 0x001e, 0x03, 0x020000, 1};
  std::array<BarSpec, kNumBars> bars{};
  bars[0] = {BarKind::kMemory32, 128 * 1024, false};
  bars[1] = {BarKind::kIo, 64, false};
  bars[2] = {BarKind::kMemory32, 4096, true};
  return ConfigSpace(id, bars);
}

TEST(PciConfig, IdentityFields) {
  ConfigSpace c = make();
  EXPECT_EQ(c.read(kVendorId, 2), 0x8086u);
  EXPECT_EQ(c.read(kDeviceId, 2), 0x100eu);
  EXPECT_EQ(c.read(0, 4), 0x100e8086u);
  EXPECT_EQ(c.read(kRevisionId, 4), 0x02000003u);
  EXPECT_EQ(c.read(kSubsystemVendorId, 4), 0x001e8086u);
  EXPECT_EQ(c.read(kInterruptPin, 1), 1u);
  EXPECT_EQ(c.read(kHeaderType, 1), 0u);
  // Read-only fields ignore writes.
  c.write(kVendorId, 4, 0xdeadbeef);
  EXPECT_EQ(c.read(0, 4), 0x100e8086u);
  c.write(kInterruptPin, 1, 4);
  EXPECT_EQ(c.read(kInterruptPin, 1), 1u);
}

TEST(PciConfig, BarSizingReturnsSizeMask) {
  ConfigSpace c = make();
  c.write(kBar0, 4, 0xffffffff);
  EXPECT_EQ(c.read(kBar0, 4), 0xfffe0000u);  // 128 KiB, 32-bit, non-prefetchable
  c.write(kBar0 + 4, 4, 0xffffffff);
  EXPECT_EQ(c.read(kBar0 + 4, 4), 0xffffffc1u);  // 64-byte I/O
  c.write(kBar0 + 8, 4, 0xffffffff);
  EXPECT_EQ(c.read(kBar0 + 8, 4), 0xfffff008u);  // prefetchable flag stays
  for (int i = 3; i < 6; ++i) {
    c.write(kBar0 + 4 * i, 4, 0xffffffff);
    EXPECT_EQ(c.read(kBar0 + 4 * i, 4), 0u) << "absent BAR" << i;
  }
  c.write(kExpansionRom, 4, 0xffffffff);
  EXPECT_EQ(c.read(kExpansionRom, 4), 0u);
  // Assign.
  c.write(kBar0, 4, 0xfebc0000);
  c.write(kBar0 + 4, 4, 0xc001);
  EXPECT_EQ(c.bar_address(0), 0xfebc0000u);
  EXPECT_EQ(c.bar_address(1), 0xc000u);
  EXPECT_EQ(c.read(kBar0 + 4, 4), 0xc001u);
  // Low address bits below the size are not writable.
  c.write(kBar0, 4, 0xfebc1234);
  EXPECT_EQ(c.read(kBar0, 4), 0xfebc0000u);
}

TEST(PciConfig, DecodeNeedsCommandBits) {
  ConfigSpace c = make();
  c.write(kBar0, 4, 0xfebc0000);
  c.write(kBar0 + 4, 4, 0xc000);
  EXPECT_FALSE(c.decode(false, 0xfebc0010, 4));
  c.write(kCommand, 2, kCommandMemory);
  auto hit = c.decode(false, 0xfebc0010, 4);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->bar, 0);
  EXPECT_EQ(hit->offset, 0x10u);
  EXPECT_FALSE(c.decode(false, 0xfebdfffe, 4));  // crosses the end
  EXPECT_FALSE(c.decode(true, 0xc004, 4));       // I/O decode off
  c.write(kCommand, 2, kCommandMemory | kCommandIo);
  ASSERT_TRUE(c.decode(true, 0xc004, 4));
  EXPECT_EQ(c.decode(true, 0xc004, 4)->bar, 1);
}

TEST(PciConfig, CommandWritableMaskAndStatusRw1c) {
  ConfigSpace c = make();
  c.write(kCommand, 2, 0xffff);
  EXPECT_EQ(c.read(kCommand, 2), 0x0557u);
  c.set_status_bits(kStatusSignaledTargetAbort | kStatusDetectedParity);
  uint16_t st = static_cast<uint16_t>(c.read(kStatus, 2));
  EXPECT_EQ(st & (kStatusSignaledTargetAbort | kStatusDetectedParity),
            kStatusSignaledTargetAbort | kStatusDetectedParity);
  // Writing 0 changes nothing; writing 1 clears only that bit.
  c.write(kStatus, 2, 0);
  EXPECT_TRUE(c.read(kStatus, 2) & kStatusDetectedParity);
  c.write(kStatus, 2, kStatusDetectedParity);
  EXPECT_FALSE(c.read(kStatus, 2) & kStatusDetectedParity);
  EXPECT_TRUE(c.read(kStatus, 2) & kStatusSignaledTargetAbort);
  // A dword write to command also hits status with its upper half.
  c.write(kCommand, 4, uint32_t{kStatusSignaledTargetAbort} << 16);
  EXPECT_FALSE(c.read(kStatus, 2) & kStatusSignaledTargetAbort);
}

TEST(PciConfig, CapabilityWalk) {
  ConfigSpace c = make();
  EXPECT_FALSE(c.read(kStatus, 2) & kStatusCapList);
  const uint8_t pm[6] = {0x22, 0, 0, 0, 0, 0};
  const uint8_t pmw[6] = {0, 0, 3, 1, 0, 0};
  ASSERT_TRUE(c.add_capability(0xdc, kCapIdPowerManagement, pm, pmw));
  const uint8_t vendor[2] = {0xaa, 0xbb};
  ASSERT_TRUE(c.add_capability(0x40, 0x09, vendor));
  EXPECT_FALSE(c.add_capability(0xde, 0x05, vendor));  // overlaps PM
  EXPECT_FALSE(c.add_capability(0x41, 0x05, vendor));  // misaligned
  EXPECT_FALSE(c.add_capability(0xfc, 0x05, pm));      // does not fit
  EXPECT_TRUE(c.read(kStatus, 2) & kStatusCapList);
  // Walk the list as an OS does.
  std::vector<uint8_t> ids;
  uint8_t p = static_cast<uint8_t>(c.read(kCapabilitiesPointer, 1));
  for (int guard = 0; p && guard < 48; ++guard) {
    ids.push_back(static_cast<uint8_t>(c.read(p, 1)));
    p = static_cast<uint8_t>(c.read(p + 1, 1));
  }
  EXPECT_EQ(ids, (std::vector<uint8_t>{kCapIdPowerManagement, 0x09}));
  EXPECT_EQ(c.read(0xde, 2), 0x0022u);
  c.write(0xe0, 2, 0xffff);  // PMCSR: power state + PME_En writable
  EXPECT_EQ(c.read(0xe0, 2), 0x0103u);
  c.reset();
  EXPECT_EQ(c.read(0xe0, 2), 0u);
  EXPECT_EQ(c.read(kCapabilitiesPointer, 1), 0xdcu);
}

TEST(PciConfig, OddAccessesNeverFail) {
  ConfigSpace c = make();
  EXPECT_EQ(c.read(256, 4), 0xffffffffu);
  EXPECT_EQ(c.read(255, 2), 0xffffu);
  EXPECT_EQ(c.read(254, 4), 0xffffffffu);
  EXPECT_EQ(c.read(0x1000, 1), 0xffu);
  EXPECT_EQ(c.read(0, 3), 0xffffffffu);
  EXPECT_EQ(c.read(1, 2), 0x0e80u);  // unaligned inside the space is fine
  c.write(300, 4, 0);
  c.write(0, 8, 0);
  EXPECT_EQ(c.read(0, 4), 0x100e8086u);
  c.write(kInterruptLine, 1, 11);
  EXPECT_EQ(c.read(kInterruptLine, 1), 11u);
}

struct LevelSink : InterruptSink {
  std::vector<bool> seen;
  void set_irq_level(bool a) override { seen.push_back(a); }
};

struct Dev : PciDevice {
  Dev() : PciDevice(Identity{1, 2, 3, 4, 5, 0x020000, 1}, {}) {}
  uint64_t bar_read(int, uint64_t, unsigned) override { return ~uint64_t{0}; }
  void bar_write(int, uint64_t, unsigned, uint64_t) override {}
  void reset() override { reset_config(); }
  using PciDevice::set_irq_request;
};

TEST(PciDevice, IntxDisableMasksLineButNotStatus) {
  Dev d;
  LevelSink s;
  d.set_interrupt_sink(&s);
  d.set_irq_request(true);
  EXPECT_TRUE(d.irq_level());
  EXPECT_TRUE(d.config_read(kStatus, 2) & kStatusInterrupt);
  d.config_write(kCommand, 2, kCommandIntxDisable);
  EXPECT_FALSE(d.irq_level());
  EXPECT_TRUE(d.config_read(kStatus, 2) & kStatusInterrupt);
  d.config_write(kCommand, 2, 0);
  EXPECT_TRUE(d.irq_level());
  d.reset();
  EXPECT_FALSE(d.irq_level());
  EXPECT_EQ(s.seen, (std::vector<bool>{true, false, true, false}));
}

}  // namespace
}  // namespace side::pci
