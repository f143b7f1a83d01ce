// Register offsets and bit definitions of the Intel 8254x family as used by the 82540EM model. Section numbers
// refer to the "PCI/PCI-X Family of Gigabit Ethernet Controllers Software Developer's Manual" (8254x SDM, rev 4.0),
// chapter 13 (register descriptions) and chapter 3 (receive/transmit descriptors).
#pragma once

#include <cstdint>

namespace side::e1000 {

inline constexpr uint16_t kVendorIntel = 0x8086;
inline constexpr uint16_t kDevice82540EM = 0x100e;
// Intel PRO/1000 MT Desktop Adapter, the board the 82540EM shipped on.
inline constexpr uint16_t kSubsystem82540EM = 0x001e;
inline constexpr uint32_t kMmioSize = 128 * 1024;  // BAR0, section 4.1 (memory register space)
inline constexpr uint32_t kIoSize = 64;            // BAR1: IOADDR/IODATA window (section 13.1.2), decoded as 64 B

// MMIO offsets (section 13.2, table 13-2).
enum Reg : uint32_t {
  CTRL = 0x0000,
  STATUS = 0x0008,
  EECD = 0x0010,
  EERD = 0x0014,
  CTRL_EXT = 0x0018,
  FLA = 0x001c,
  MDIC = 0x0020,
  FCAL = 0x0028,
  FCAH = 0x002c,
  FCT = 0x0030,
  VET = 0x0038,
  ICR = 0x00c0,
  ITR = 0x00c4,
  ICS = 0x00c8,
  IMS = 0x00d0,
  IMC = 0x00d8,
  RCTL = 0x0100,
  FCTTV = 0x0170,
  TXCW = 0x0178,
  RXCW = 0x0180,
  TCTL = 0x0400,
  TIPG = 0x0410,
  AIT = 0x0458,
  LEDCTL = 0x0e00,
  PBA = 0x1000,
  FCRTL = 0x2160,
  FCRTH = 0x2168,
  RDFH = 0x2410,
  RDFT = 0x2418,
  RDFHS = 0x2420,
  RDFTS = 0x2428,
  RDFPC = 0x2430,
  RDBAL = 0x2800,
  RDBAH = 0x2804,
  RDLEN = 0x2808,
  RDH = 0x2810,
  RDT = 0x2818,
  RDTR = 0x2820,
  RXDCTL = 0x2828,
  RADV = 0x282c,
  RSRPD = 0x2c00,
  TXDMAC = 0x3000,
  TDFH = 0x3410,
  TDFT = 0x3418,
  TDFHS = 0x3420,
  TDFTS = 0x3428,
  TDFPC = 0x3430,
  TDBAL = 0x3800,
  TDBAH = 0x3804,
  TDLEN = 0x3808,
  TDH = 0x3810,
  TDT = 0x3818,
  TIDV = 0x3820,
  TXDCTL = 0x3828,
  TADV = 0x382c,
  TSPMT = 0x3830,
  // Statistics, section 13.7: all clear on read.
  CRCERRS = 0x4000,
  ALGNERRC = 0x4004,
  SYMERRS = 0x4008,
  RXERRC = 0x400c,
  MPC = 0x4010,
  SCC = 0x4014,
  ECOL = 0x4018,
  MCC = 0x401c,
  LATECOL = 0x4020,
  COLC = 0x4028,
  DC = 0x4030,
  TNCRS = 0x4034,
  SEC = 0x4038,
  CEXTERR = 0x403c,
  RLEC = 0x4040,
  XONRXC = 0x4048,
  XONTXC = 0x404c,
  XOFFRXC = 0x4050,
  XOFFTXC = 0x4054,
  FCRUC = 0x4058,
  PRC64 = 0x405c,
  PRC127 = 0x4060,
  PRC255 = 0x4064,
  PRC511 = 0x4068,
  PRC1023 = 0x406c,
  PRC1522 = 0x4070,
  GPRC = 0x4074,
  BPRC = 0x4078,
  MPRC = 0x407c,
  GPTC = 0x4080,
  GORCL = 0x4088,
  GORCH = 0x408c,
  GOTCL = 0x4090,
  GOTCH = 0x4094,
  RNBC = 0x40a0,
  RUC = 0x40a4,
  RFC = 0x40a8,
  ROC = 0x40ac,
  RJC = 0x40b0,
  MGTPRC = 0x40b4,
  MGTPDC = 0x40b8,
  MGTPTC = 0x40bc,
  TORL = 0x40c0,
  TORH = 0x40c4,
  TOTL = 0x40c8,
  TOTH = 0x40cc,
  TPR = 0x40d0,
  TPT = 0x40d4,
  PTC64 = 0x40d8,
  PTC127 = 0x40dc,
  PTC255 = 0x40e0,
  PTC511 = 0x40e4,
  PTC1023 = 0x40e8,
  PTC1522 = 0x40ec,
  MPTC = 0x40f0,
  BPTC = 0x40f4,
  TSCTC = 0x40f8,
  TSCTFC = 0x40fc,
  RXCSUM = 0x5000,
  MTA = 0x5200,   // 128 entries
  RAL0 = 0x5400,  // 16 pairs RAL/RAH
  RAH0 = 0x5404,
  VFTA = 0x5600,  // 128 entries
  WUC = 0x5800,
  WUFC = 0x5808,
  WUS = 0x5810,
  MANC = 0x5820,
  IPAV = 0x5838,
  IP4AT = 0x5840,  // 4 entries, 8-byte stride
  IP6AT = 0x5880,  // 4 dwords
  WUPL = 0x5900,
  WUPM = 0x5a00,  // 32 dwords
  FFLT = 0x5f00,  // 4 entries, 8-byte stride
  FFMT = 0x9000,  // 128 entries, 8-byte stride
  FFVT = 0x9800,  // 128 entries, 8-byte stride
};

inline constexpr int kNumRar = 16;
inline constexpr int kNumMta = 128;
inline constexpr int kNumVfta = 128;

// CTRL (13.4.1)
inline constexpr uint32_t CTRL_FD = 1u << 0;
inline constexpr uint32_t CTRL_LRST = 1u << 3;
inline constexpr uint32_t CTRL_ASDE = 1u << 5;
inline constexpr uint32_t CTRL_SLU = 1u << 6;
inline constexpr uint32_t CTRL_SPEED_1000 = 2u << 8;
inline constexpr uint32_t CTRL_RST = 1u << 26;
inline constexpr uint32_t CTRL_VME = 1u << 30;
inline constexpr uint32_t CTRL_PHY_RST = 1u << 31;

// STATUS (13.4.2)
inline constexpr uint32_t STATUS_FD = 1u << 0;
inline constexpr uint32_t STATUS_LU = 1u << 1;
inline constexpr uint32_t STATUS_TXOFF = 1u << 4;
inline constexpr uint32_t STATUS_TBIMODE = 1u << 5;
inline constexpr uint32_t STATUS_SPEED_1000 = 2u << 6;
inline constexpr uint32_t STATUS_ASDV_1000 = 2u << 8;

// EECD (13.4.3)
inline constexpr uint32_t EECD_SK = 1u << 0;
inline constexpr uint32_t EECD_CS = 1u << 1;
inline constexpr uint32_t EECD_DI = 1u << 2;
inline constexpr uint32_t EECD_DO = 1u << 3;
inline constexpr uint32_t EECD_FWE_MASK = 3u << 4;
inline constexpr uint32_t EECD_REQ = 1u << 6;
inline constexpr uint32_t EECD_GNT = 1u << 7;
inline constexpr uint32_t EECD_PRES = 1u << 8;
inline constexpr uint32_t EECD_SIZE = 1u << 9;  // 0: 64-word (93C46) EEPROM

// EERD (13.4.4): 8254x layout
inline constexpr uint32_t EERD_START = 1u << 0;
inline constexpr uint32_t EERD_DONE = 1u << 4;
inline constexpr uint32_t EERD_ADDR_SHIFT = 8;
inline constexpr uint32_t EERD_DATA_SHIFT = 16;

// MDIC (13.4.7)
inline constexpr uint32_t MDIC_DATA_MASK = 0xffff;
inline constexpr uint32_t MDIC_REG_SHIFT = 16;
inline constexpr uint32_t MDIC_PHY_SHIFT = 21;
inline constexpr uint32_t MDIC_OP_WRITE = 1u << 26;
inline constexpr uint32_t MDIC_OP_READ = 2u << 26;
inline constexpr uint32_t MDIC_READY = 1u << 28;
inline constexpr uint32_t MDIC_INT_EN = 1u << 29;
inline constexpr uint32_t MDIC_ERROR = 1u << 30;

// Interrupt causes: ICR/ICS/IMS/IMC (13.4.17-21)
inline constexpr uint32_t ICR_TXDW = 1u << 0;
inline constexpr uint32_t ICR_TXQE = 1u << 1;
inline constexpr uint32_t ICR_LSC = 1u << 2;
inline constexpr uint32_t ICR_RXSEQ = 1u << 3;
inline constexpr uint32_t ICR_RXDMT0 = 1u << 4;
inline constexpr uint32_t ICR_RXO = 1u << 6;
inline constexpr uint32_t ICR_RXT0 = 1u << 7;
inline constexpr uint32_t ICR_MDAC = 1u << 9;
inline constexpr uint32_t ICR_RXCFG = 1u << 10;
inline constexpr uint32_t ICR_TXD_LOW = 1u << 15;
inline constexpr uint32_t ICR_SRPD = 1u << 16;
inline constexpr uint32_t ICR_VALID_MASK = 0x0001f6dfu;  // causes defined for the 82540EM (incl. GPI bits)
inline constexpr uint32_t ICR_INT_ASSERTED = 1u << 31;

// RCTL (13.4.22)
inline constexpr uint32_t RCTL_EN = 1u << 1;
inline constexpr uint32_t RCTL_SBP = 1u << 2;
inline constexpr uint32_t RCTL_UPE = 1u << 3;
inline constexpr uint32_t RCTL_MPE = 1u << 4;
inline constexpr uint32_t RCTL_LPE = 1u << 5;
inline constexpr uint32_t RCTL_LBM_MASK = 3u << 6;
inline constexpr uint32_t RCTL_RDMTS_SHIFT = 8;
inline constexpr uint32_t RCTL_MO_SHIFT = 12;
inline constexpr uint32_t RCTL_BAM = 1u << 15;
inline constexpr uint32_t RCTL_BSIZE_SHIFT = 16;
inline constexpr uint32_t RCTL_VFE = 1u << 18;
inline constexpr uint32_t RCTL_BSEX = 1u << 25;
inline constexpr uint32_t RCTL_SECRC = 1u << 26;

// TCTL (13.4.33)
inline constexpr uint32_t TCTL_EN = 1u << 1;
inline constexpr uint32_t TCTL_PSP = 1u << 3;

// RXCSUM (13.4.25)
inline constexpr uint32_t RXCSUM_IPOFL = 1u << 8;
inline constexpr uint32_t RXCSUM_TUOFL = 1u << 9;

// RAH (13.5.2)
inline constexpr uint32_t RAH_AV = 1u << 31;

// Transmit descriptors (section 3.3). Byte offsets inside the 16-byte descriptor.
inline constexpr uint32_t kDescSize = 16;
inline constexpr uint8_t TXD_CMD_EOP = 0x01;
inline constexpr uint8_t TXD_CMD_IFCS = 0x02;
inline constexpr uint8_t TXD_CMD_IC = 0x04;
inline constexpr uint8_t TXD_CMD_RS = 0x08;
inline constexpr uint8_t TXD_CMD_RPS = 0x10;
inline constexpr uint8_t TXD_CMD_DEXT = 0x20;
inline constexpr uint8_t TXD_CMD_VLE = 0x40;
inline constexpr uint8_t TXD_CMD_IDE = 0x80;
inline constexpr uint8_t TXD_CMD_TSE = 0x04;  // in extended (context/data) descriptors, replaces IC
inline constexpr uint8_t TXD_STAT_DD = 0x01;
inline constexpr uint8_t TUCMD_TCP = 0x01;
inline constexpr uint8_t TUCMD_IP = 0x02;
inline constexpr uint8_t TUCMD_TSE = 0x04;
inline constexpr uint8_t POPTS_IXSM = 0x01;
inline constexpr uint8_t POPTS_TXSM = 0x02;
inline constexpr uint32_t DTYP_CONTEXT = 0x0;
inline constexpr uint32_t DTYP_DATA = 0x1;

// Receive descriptor (section 3.2.3)
inline constexpr uint8_t RXD_STAT_DD = 0x01;
inline constexpr uint8_t RXD_STAT_EOP = 0x02;
inline constexpr uint8_t RXD_STAT_IXSM = 0x04;
inline constexpr uint8_t RXD_STAT_VP = 0x08;
inline constexpr uint8_t RXD_STAT_TCPCS = 0x20;
inline constexpr uint8_t RXD_STAT_IPCS = 0x40;
inline constexpr uint8_t RXD_ERR_TCPE = 0x20;
inline constexpr uint8_t RXD_ERR_IPE = 0x40;

// EEPROM words (section 5.6, table 5-2)
inline constexpr int kEepromWords = 64;
inline constexpr uint16_t kEepromChecksumTarget = 0xbaba;
inline constexpr uint8_t kEepromReadOpcode = 0x6;  // start bit + READ (10b), microwire

}  // namespace side::e1000
