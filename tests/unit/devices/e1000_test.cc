// Registers, EEPROM, PHY, resets and interrupts of the 82540EM model.
#include "e1000_fixture.h"

namespace side::e1000::test {
namespace {

TEST_F(E1000Test, PciIdentityBarsAndPmCapability) {
  EXPECT_EQ(dev->config_read(0, 4), 0x100e8086u);
  EXPECT_EQ(dev->config_read(0x2c, 4), 0x001e8086u);
  EXPECT_EQ(dev->config_read(0x08, 4) >> 8, 0x020000u);
  dev->config_write(0x10, 4, 0xffffffff);
  EXPECT_EQ(dev->config_read(0x10, 4), 0xfffe0000u);  // 128 KiB memory BAR
  dev->config_write(0x14, 4, 0xffffffff);
  EXPECT_EQ(dev->config_read(0x14, 4), 0xffffffc1u);  // I/O BAR
  dev->config_write(0x18, 4, 0xffffffff);
  EXPECT_EQ(dev->config_read(0x18, 4), 0u);  // no flash BAR on the 82540EM
  EXPECT_TRUE(dev->config_read(0x06, 2) & 0x10);
  uint8_t cap = static_cast<uint8_t>(dev->config_read(0x34, 1));
  EXPECT_EQ(cap, 0xdc);
  EXPECT_EQ(dev->config_read(cap, 1), 0x01u);      // power management
  EXPECT_EQ(dev->config_read(cap + 1, 1), 0x00u);  // last: no PCI-X on the 82540EM
}

TEST_F(E1000Test, EepromViaEerdHasMacIdsAndChecksum) {
  uint16_t sum = 0;
  std::vector<uint16_t> words;
  for (uint32_t a = 0; a < 64; ++a) {
    wr(EERD, EERD_START | (a << EERD_ADDR_SHIFT));
    uint32_t v = rd(EERD);
    ASSERT_TRUE(v & EERD_DONE);
    EXPECT_EQ((v >> EERD_ADDR_SHIFT) & 0xff, a);
    words.push_back(static_cast<uint16_t>(v >> EERD_DATA_SHIFT));
    sum = static_cast<uint16_t>(sum + words.back());
  }
  EXPECT_EQ(sum, 0xbaba);
  EXPECT_EQ(words[0], 0x1102);
  EXPECT_EQ(words[1], 0x3322);
  EXPECT_EQ(words[2], 0x5544);
  EXPECT_EQ(words[0x0b], kSubsystem82540EM);
  EXPECT_EQ(words[0x0d], kDevice82540EM);
  EXPECT_EQ(words[0x0e], kVendorIntel);
}

// Reads one word the way Linux's e1000_read_eeprom_microwire does: request/grant, select, shift out the READ
// opcode (110b) and 6 address bits on rising SK edges, shift in 16 bits, deselect.
class Microwire {
 public:
  explicit Microwire(E1000Test* t, std::function<uint32_t()> rd, std::function<void(uint32_t)> wr)
      : rd_(std::move(rd)), wr_(std::move(wr)) {
    (void)t;
  }
  uint16_t read_word(uint32_t addr) {
    uint32_t eecd = rd_() | EECD_REQ;
    wr_(eecd);
    EXPECT_TRUE(rd_() & EECD_GNT);
    eecd &= ~(EECD_DI | EECD_SK);
    wr_(eecd);
    eecd |= EECD_CS;
    wr_(eecd);
    shift_out(&eecd, kEepromReadOpcode, 3);
    shift_out(&eecd, addr, 6);
    uint16_t data = 0;
    for (int i = 0; i < 16; ++i) {
      data = static_cast<uint16_t>(data << 1);
      eecd |= EECD_SK;
      wr_(eecd);
      if (rd_() & EECD_DO) data |= 1;
      eecd &= ~EECD_SK;
      wr_(eecd);
    }
    eecd &= ~(EECD_CS | EECD_DI);
    wr_(eecd);
    eecd &= ~EECD_REQ;
    wr_(eecd);
    return data;
  }

 private:
  void shift_out(uint32_t* eecd, uint32_t bits, int count) {
    for (int i = count - 1; i >= 0; --i) {
      *eecd = (bits >> i) & 1 ? (*eecd | EECD_DI) : (*eecd & ~EECD_DI);
      wr_(*eecd);
      *eecd |= EECD_SK;
      wr_(*eecd);
      *eecd &= ~EECD_SK;
      wr_(*eecd);
    }
    *eecd &= ~EECD_DI;
    wr_(*eecd);
  }
  std::function<uint32_t()> rd_;
  std::function<void(uint32_t)> wr_;
};

TEST_F(E1000Test, EepromViaMicrowireBitBang) {
  EXPECT_TRUE(rd(EECD) & EECD_PRES);
  EXPECT_FALSE(rd(EECD) & EECD_SIZE);  // 64-word part: 6 address bits
  EXPECT_FALSE(rd(EECD) & EECD_GNT);
  Microwire mw(
      this, [this] { return rd(EECD); }, [this](uint32_t v) { wr(EECD, v); });
  uint16_t sum = 0;
  for (uint32_t a = 0; a < 64; ++a) {
    uint16_t w = mw.read_word(a);
    EXPECT_EQ(w, dev->eeprom().word(a)) << "word " << a;
    sum = static_cast<uint16_t>(sum + w);
  }
  EXPECT_EQ(sum, 0xbaba);
  EXPECT_EQ(mw.read_word(2), 0x5544);
}

TEST_F(E1000Test, PhyThroughMdic) {
  auto phy_read = [this](uint32_t phy, uint32_t reg) {
    wr(MDIC, MDIC_OP_READ | (phy << MDIC_PHY_SHIFT) | (reg << MDIC_REG_SHIFT));
    return rd(MDIC);
  };
  auto phy_write = [this](uint32_t reg, uint16_t v) {
    wr(MDIC, MDIC_OP_WRITE | (1u << MDIC_PHY_SHIFT) | (reg << MDIC_REG_SHIFT) | v);
    return rd(MDIC);
  };
  uint32_t id1 = phy_read(1, PHY_ID1), id2 = phy_read(1, PHY_ID2);
  ASSERT_TRUE(id1 & MDIC_READY);
  EXPECT_FALSE(id1 & MDIC_ERROR);
  // The driver accepts the 82540's PHY as M88E1011: (ID1 << 16 | ID2) & 0xFFFFFFF0 == 0x01410C20.
  EXPECT_EQ((((id1 & 0xffff) << 16) | (id2 & 0xffff)) & 0xfffffff0u, 0x01410c20u);
  uint32_t st = phy_read(1, PHY_STATUS) & 0xffff;
  EXPECT_TRUE(st & MII_SR_LINK_STATUS);
  EXPECT_TRUE(st & MII_SR_AUTONEG_COMPLETE);
  EXPECT_EQ(phy_read(1, M88_PHY_SPEC_STATUS) & 0xffff, 0xac00u);  // 1000 Mb/s, full duplex, resolved, link
  EXPECT_EQ(phy_read(1, PHY_1000T_STATUS) & 0x3000, 0x3000u);
  // Reset / restart-autoneg self-clear.
  phy_write(PHY_CTRL, MII_CR_RESET | MII_CR_AUTONEG_EN | MII_CR_RESTART_AUTONEG | 0x0140);
  EXPECT_EQ(phy_read(1, PHY_CTRL) & 0xffff, uint32_t{MII_CR_AUTONEG_EN | 0x0140});
  // Writable M88 register keeps its value; read-only ids do not change.
  phy_write(M88_PHY_SPEC_CTRL, 0x0808);
  EXPECT_EQ(phy_read(1, M88_PHY_SPEC_CTRL) & 0xffff, 0x0808u);
  phy_write(PHY_ID1, 0x1234);
  EXPECT_EQ(phy_read(1, PHY_ID1) & 0xffff, 0x0141u);
  // Another PHY address does not answer.
  EXPECT_TRUE(phy_read(2, PHY_ID1) & MDIC_ERROR);
  // MDIC interrupt on completion when requested.
  wr(IMS, ICR_MDAC);
  wr(MDIC, MDIC_OP_READ | MDIC_INT_EN | (1u << MDIC_PHY_SHIFT));
  EXPECT_TRUE(irq.level);
  EXPECT_TRUE(rd(ICR) & ICR_MDAC);
}

TEST_F(E1000Test, StatusReportsGigabitFullDuplexLinkAndLinkChanges) {
  uint32_t s = rd(STATUS);
  EXPECT_TRUE(s & STATUS_LU);
  EXPECT_TRUE(s & STATUS_FD);
  EXPECT_EQ(s & (3u << 6), STATUS_SPEED_1000);
  EXPECT_FALSE(s & STATUS_TBIMODE);  // copper
  wr(STATUS, 0);                     // read-only
  EXPECT_EQ(rd(STATUS), s);
  wr(IMS, ICR_LSC);
  dev->set_link(false);
  EXPECT_FALSE(rd(STATUS) & STATUS_LU);
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(rd(ICR) & ICR_LSC, ICR_LSC);
  wr(MDIC, MDIC_OP_READ | (1u << MDIC_PHY_SHIFT) | (PHY_STATUS << MDIC_REG_SHIFT));
  EXPECT_FALSE(rd(MDIC) & MII_SR_LINK_STATUS);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kDroppedLinkDown);
  dev->set_link(true);
  EXPECT_TRUE(rd(STATUS) & STATUS_LU);
  EXPECT_TRUE(rd(ICR) & ICR_LSC);
}

TEST_F(E1000Test, ResetThroughIoBarRestoresDefaults) {
  // Linux resets the 82540 with an I/O write (e1000_reset_hw: E1000_WRITE_REG_IO(CTRL, ctrl | RST)).
  wr(RCTL, RCTL_EN | RCTL_UPE);
  wr(IMS, ICR_RXT0 | ICR_LSC);
  wr(RAL0, 0x12345678);
  wr(RAH0 + 8, RAH_AV | 0x1);
  wr(ICS, ICR_LSC);
  EXPECT_TRUE(irq.level);
  dev->bar_write(1, 0, 4, CTRL);
  EXPECT_EQ(dev->bar_read(1, 0, 4), uint64_t{CTRL});
  uint32_t ctrl = static_cast<uint32_t>(dev->bar_read(1, 4, 4));
  EXPECT_TRUE(ctrl & CTRL_SLU);
  dev->bar_write(1, 4, 4, ctrl | CTRL_RST);
  EXPECT_EQ(rd(RCTL), 0u);
  EXPECT_EQ(rd(IMS), 0u);
  EXPECT_FALSE(irq.level);
  EXPECT_EQ(rd(RAL0), 0x33221102u);  // reloaded from EEPROM
  EXPECT_EQ(rd(RAH0), RAH_AV | 0x5544u);
  EXPECT_EQ(rd(RAH0 + 8), 0u);
  EXPECT_FALSE(rd(CTRL) & CTRL_RST);  // self-clearing
  EXPECT_EQ(rd(PBA), 0x00100030u);
  EXPECT_EQ(dev->counters().device_resets, 1u);
}

TEST_F(E1000Test, InterruptCauseMaskAndReadToClear) {
  EXPECT_FALSE(irq.level);
  wr(ICS, ICR_RXT0);  // masked: cause latched, line low
  EXPECT_FALSE(irq.level);
  EXPECT_EQ(rd(ICS), ICR_RXT0);  // ICS reads back ICR without clearing
  wr(IMS, ICR_RXT0 | ICR_TXDW);
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(rd(IMS), ICR_RXT0 | ICR_TXDW);
  uint32_t icr = rd(ICR);
  EXPECT_EQ(icr, ICR_RXT0 | ICR_INT_ASSERTED);
  EXPECT_FALSE(irq.level);
  EXPECT_EQ(rd(ICR), 0u);  // cleared by the read
  wr(IMC, ICR_RXT0);
  EXPECT_EQ(rd(IMS), ICR_TXDW);
  EXPECT_EQ(rd(IMC), 0u);  // write-only
  wr(ICS, ICR_RXT0);
  EXPECT_FALSE(irq.level);
  wr(ICS, ICR_TXDW);
  EXPECT_TRUE(irq.level);
  // Writing 1s to ICR clears causes too.
  wr(ICR, ICR_TXDW);
  EXPECT_FALSE(irq.level);
  EXPECT_EQ(rd(ICR), ICR_RXT0);
  // INTx Disable in the PCI command register holds the line low.
  wr(ICS, ICR_TXDW);
  EXPECT_TRUE(irq.level);
  dev->config_write(0x04, 2, 0x0400 | 0x0006);
  EXPECT_FALSE(irq.level);
  EXPECT_TRUE(dev->config_read(0x06, 2) & 0x08);  // status still shows the pending interrupt
  dev->config_write(0x04, 2, 0x0006);
  EXPECT_TRUE(irq.level);
}

TEST_F(E1000Test, ItrThrottlesAssertions) {
  wr(ITR, 1000);  // 1000 * 256 ns = 256 us between assertions
  wr(IMS, ICR_RXT0);
  wr(ICS, ICR_RXT0);
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(irq.rises, 1);
  rd(ICR);
  EXPECT_FALSE(irq.level);
  clock_ns += 10'000;
  wr(ICS, ICR_RXT0);
  EXPECT_FALSE(irq.level);  // inside the window
  auto dl = dev->next_deadline_ns();
  ASSERT_TRUE(dl);
  EXPECT_EQ(*dl, 1'000'000'000u + 256'000u);
  clock_ns += 100'000;
  dev->service_timers();
  EXPECT_FALSE(irq.level);
  wr(ICS, ICR_RXT0);  // more causes coalesce into the pending assertion
  clock_ns = *dl;
  dev->service_timers();
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(irq.rises, 2);
  EXPECT_FALSE(dev->next_deadline_ns());
  EXPECT_EQ(dev->counters().irq_throttled, 1u);
  // Clearing the cause while throttled cancels the pending assertion.
  rd(ICR);
  clock_ns += 1000;
  wr(ICS, ICR_RXT0);
  EXPECT_TRUE(dev->next_deadline_ns());
  wr(ICR, ICR_RXT0);
  EXPECT_FALSE(dev->next_deadline_ns());
  // ITR 0: no throttling.
  wr(ITR, 0);
  wr(ICS, ICR_RXT0);
  EXPECT_TRUE(irq.level);
}

TEST_F(E1000Test, StatisticsAreReadToClear) {
  setup_rx(kIova + 0x1000, 8, kIova + 0x10000, 2048);
  ASSERT_EQ(dev->receive(frame_to(kMac, 100)), RxResult::kAccepted);
  ASSERT_EQ(dev->receive(frame_to(kMac, 200)), RxResult::kAccepted);
  EXPECT_EQ(rd(GPRC), 2u);
  EXPECT_EQ(rd(GPRC), 0u);
  EXPECT_EQ(rd(TPR), 2u);
  EXPECT_EQ(rd(PRC127), 1u);
  EXPECT_EQ(rd(PRC255), 1u);
  EXPECT_EQ(rd(GORCL), 308u);  // 104 + 204 octets with FCS
  EXPECT_EQ(rd(GORCL), 308u);  // low half alone does not clear
  EXPECT_EQ(rd(GORCH), 0u);    // reading the high half clears both
  EXPECT_EQ(rd(GORCL), 0u);
  wr(GPRC, 55);  // read-only
  EXPECT_EQ(rd(GPRC), 0u);
}

TEST_F(E1000Test, UnknownAndOddAccessesAreIgnored) {
  EXPECT_EQ(rd(0x0004), 0u);  // reserved
  wr(0x0004, 0xffffffff);
  EXPECT_EQ(rd(0x0004), 0u);
  EXPECT_EQ(dev->bar_read(0, kMmioSize, 4), 0xffffffffu);
  EXPECT_EQ(dev->bar_read(0, kMmioSize - 2, 4), 0xffffffffu);
  EXPECT_EQ(dev->bar_read(0, 0x0002, 4), 0xffffffffu);  // crosses a register
  EXPECT_EQ(dev->bar_read(0, 0, 3), ~uint64_t{0});
  EXPECT_EQ(dev->bar_read(5, 0, 4), 0xffffffffu);
  dev->bar_write(0, kMmioSize + 100, 4, 1);
  dev->bar_write(7, 0, 4, 1);
  EXPECT_GE(dev->counters().unknown_accesses, 6u);
  // Sub-dword and 64-bit accesses reach the right bytes.
  wr(RDBAL, 0x12345670);
  EXPECT_EQ(dev->bar_read(0, RDBAL + 1, 1), 0x56u);
  EXPECT_EQ(dev->bar_read(0, RDBAL + 2, 2), 0x1234u);
  dev->bar_write(0, RDBAL + 3, 1, 0xab);
  EXPECT_EQ(rd(RDBAL), 0xab345670u);
  dev->bar_write(0, RDBAL, 8, 0x00000001'fedcba90ull);
  EXPECT_EQ(rd(RDBAH), 1u);
  EXPECT_EQ(dev->bar_read(0, RDBAL, 8), 0x00000001'fedcba90ull);
  // Writable masks: reserved bits of RDLEN are not stored.
  wr(RDLEN, 0xffffffff);
  EXPECT_EQ(rd(RDLEN), 0x000fff80u);
}

TEST_F(E1000Test, PciResetRestoresEverything) {
  dev->config_write(0x10, 4, 0xfebc0000);
  dev->config_write(0x04, 2, 0x7);
  wr(IMS, ICR_LSC);
  wr(ICS, ICR_LSC);
  EXPECT_TRUE(irq.level);
  dev->reset();
  EXPECT_FALSE(irq.level);
  EXPECT_EQ(dev->config_read(0x10, 4), 0u);
  EXPECT_EQ(dev->config_read(0x04, 2), 0u);
  EXPECT_EQ(rd(IMS), 0u);
  EXPECT_EQ(dev->config_read(0x34, 1), 0xdcu);
}

}  // namespace
}  // namespace side::e1000::test
