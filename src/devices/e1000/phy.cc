#include "devices/e1000/phy.h"

namespace side::e1000 {

Phy::Phy() {
  reset();
}

void Phy::reset() {
  regs_.fill(0);
  regs_[PHY_CTRL] = 0x1140;  // auto-negotiation enabled, full duplex, speed 1000 (bits 6 and 13 = 10b)
  regs_[PHY_ID1] = kPhyId1;
  regs_[PHY_ID2] = kPhyId2;
  regs_[PHY_AUTONEG_ADV] = 0x0de1;  // 10/100 half+full, pause, asymmetric pause, selector 802.3
  regs_[PHY_1000T_CTRL] = 0x0e00;
  regs_[PHY_EXT_STATUS] = 0x3000;  // 1000BASE-T full and half duplex capable
  regs_[M88_PHY_SPEC_CTRL] = 0x0068;
  regs_[M88_EXT_PHY_SPEC_CTRL] = 0x0d60;
  regs_[M88_LED_CTRL] = 0x4100;
  update_link_registers();
}

void Phy::update_link_registers() {
  // Capabilities: 100BASE-TX/10BASE-T full+half, MF preamble suppression, extended status, AN ability, extended
  // capabilities. Link and AN complete follow the link.
  uint16_t status = 0x7949;
  if (link_up_) status |= MII_SR_LINK_STATUS | MII_SR_AUTONEG_COMPLETE;
  regs_[PHY_STATUS] = status;
  regs_[PHY_LP_ABILITY] = link_up_ ? 0xc5e1 : 0;  // link partner: ack, next page, pause, 10/100 all
  regs_[PHY_AUTONEG_EXP] = link_up_ ? 0x0001 : 0;
  // 1000BASE-T status: local and remote receiver OK, partner 1000 full/half.
  regs_[PHY_1000T_STATUS] = link_up_ ? 0x3c00 : 0;
  // M88 PHY specific status: speed 1000 (bits 15:14 = 10b), full duplex, speed/duplex resolved, link up.
  regs_[M88_PHY_SPEC_STATUS] = link_up_ ? 0xac00 : 0;
}

bool Phy::read(uint8_t reg, uint16_t* value) const {
  if (reg >= regs_.size()) return false;
  *value = regs_[reg];
  return true;
}

bool Phy::write(uint8_t reg, uint16_t value) {
  switch (reg) {
    case PHY_CTRL:
      // Reset and restart-autonegotiation are self-clearing; with the model's instant negotiation both complete
      // before the next read.
      regs_[PHY_CTRL] = value & static_cast<uint16_t>(~(MII_CR_RESET | MII_CR_RESTART_AUTONEG));
      update_link_registers();
      return true;
    case PHY_STATUS:
    case PHY_ID1:
    case PHY_ID2:
    case PHY_LP_ABILITY:
    case PHY_AUTONEG_EXP:
    case PHY_LP_NEXT_PAGE:
    case PHY_1000T_STATUS:
    case PHY_EXT_STATUS:
    case M88_PHY_SPEC_STATUS:
    case M88_INT_STATUS:
    case M88_RX_ERR_CNTR:
      return true;  // read-only: the write completes, the value does not change
    default:
      if (reg >= regs_.size()) return false;
      regs_[reg] = value;
      return true;
  }
}

void Phy::set_link(bool up) {
  link_up_ = up;
  update_link_registers();
}

}  // namespace side::e1000
