// The 82540EM's integrated PHY, register-compatible with the Marvell 88E1011 (section 13.5 "PHY registers" of the
// 8254x SDM). Linux's e1000 identifies it by PHY_ID1/PHY_ID2 (M88E1011_I_PHY_ID = 0x01410C20) at MDIO address 1
// and then only programs the M88 specific control registers and polls status, so the model keeps a plain register
// file with the ids, status and link-dependent registers computed from the link state. Auto-negotiation completes
// instantly when the link is up.
#pragma once

#include <array>
#include <cstdint>

namespace side::e1000 {

enum PhyReg : uint8_t {
  PHY_CTRL = 0x00,
  PHY_STATUS = 0x01,
  PHY_ID1 = 0x02,
  PHY_ID2 = 0x03,
  PHY_AUTONEG_ADV = 0x04,
  PHY_LP_ABILITY = 0x05,
  PHY_AUTONEG_EXP = 0x06,
  PHY_NEXT_PAGE_TX = 0x07,
  PHY_LP_NEXT_PAGE = 0x08,
  PHY_1000T_CTRL = 0x09,
  PHY_1000T_STATUS = 0x0a,
  PHY_EXT_STATUS = 0x0f,
  M88_PHY_SPEC_CTRL = 0x10,
  M88_PHY_SPEC_STATUS = 0x11,
  M88_INT_ENABLE = 0x12,
  M88_INT_STATUS = 0x13,
  M88_EXT_PHY_SPEC_CTRL = 0x14,
  M88_RX_ERR_CNTR = 0x15,
  M88_LED_CTRL = 0x18,
  M88_PAGE_SELECT = 0x1d,
  M88_GEN_CONTROL = 0x1e,
};

inline constexpr int kPhyAddress = 1;
inline constexpr uint16_t kPhyId1 = 0x0141;
inline constexpr uint16_t kPhyId2 = 0x0c20;

// MII control/status bits (IEEE 802.3 clause 22).
inline constexpr uint16_t MII_CR_RESET = 0x8000;
inline constexpr uint16_t MII_CR_LOOPBACK = 0x4000;
inline constexpr uint16_t MII_CR_AUTONEG_EN = 0x1000;
inline constexpr uint16_t MII_CR_RESTART_AUTONEG = 0x0200;
inline constexpr uint16_t MII_SR_LINK_STATUS = 0x0004;
inline constexpr uint16_t MII_SR_AUTONEG_COMPLETE = 0x0020;

class Phy {
 public:
  Phy();
  void reset();  // PHY hardware reset (CTRL.PHY_RST or device power-on)
  // Returns false for registers the PHY does not answer (the MDIC E bit is then set).
  bool read(uint8_t reg, uint16_t* value) const;
  bool write(uint8_t reg, uint16_t value);

  void set_link(bool up);
  bool link_up() const { return link_up_; }

 private:
  void update_link_registers();
  std::array<uint16_t, 32> regs_{};
  bool link_up_ = true;
};

}  // namespace side::e1000
