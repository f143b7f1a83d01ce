#include "devices/e1000/registers.h"

#include <array>

#include "devices/e1000/regs.h"

namespace side::e1000 {
namespace {

constexpr uint32_t kAll = 0xffffffffu;

// Reset values from section 13 (and the EEPROM-loaded defaults the 82540EM shows after power-on); writable masks
// exclude reserved bits so a driver reading back sees what hardware would show.
constexpr RegisterInfo kTable[] = {
    {"CTRL", CTRL, 1, 4, CTRL_SLU | CTRL_SPEED_1000 | CTRL_FD, 0xdfffffffu & ~CTRL_RST, RegKind::kCtrl},
    {"STATUS", STATUS, 1, 4, 0, 0, RegKind::kStatus},
    {"EECD", EECD, 1, 4, EECD_PRES, EECD_SK | EECD_CS | EECD_DI | EECD_FWE_MASK | EECD_REQ, RegKind::kEecd},
    {"EERD", EERD, 1, 4, 0, 0xff01, RegKind::kEerd},
    {"CTRL_EXT", CTRL_EXT, 1, 4, 0, 0x00fff0ffu, RegKind::kPlain},
    {"FLA", FLA, 1, 4, 0, 0, RegKind::kReadOnly},  // no flash on the 82540EM
    {"MDIC", MDIC, 1, 4, MDIC_READY, 0x3fffffffu, RegKind::kMdic},
    {"FCAL", FCAL, 1, 4, 0, kAll, RegKind::kPlain},
    {"FCAH", FCAH, 1, 4, 0, 0xffff, RegKind::kPlain},
    {"FCT", FCT, 1, 4, 0, 0xffff, RegKind::kPlain},
    {"VET", VET, 1, 4, 0x8100, 0xffff, RegKind::kPlain},
    {"ICR", ICR, 1, 4, 0, ICR_VALID_MASK, RegKind::kIcr},
    {"ITR", ITR, 1, 4, 0, 0xffff, RegKind::kItr},
    {"ICS", ICS, 1, 4, 0, ICR_VALID_MASK, RegKind::kIcs},
    {"IMS", IMS, 1, 4, 0, ICR_VALID_MASK, RegKind::kIms},
    {"IMC", IMC, 1, 4, 0, ICR_VALID_MASK, RegKind::kImc},
    {"RCTL", RCTL, 1, 4, 0, 0x07ffbffeu, RegKind::kRctl},
    {"FCTTV", FCTTV, 1, 4, 0, 0xffff, RegKind::kPlain},
    {"TXCW", TXCW, 1, 4, 0, 0xc000ffffu, RegKind::kPlain},
    {"RXCW", RXCW, 1, 4, 0, 0, RegKind::kReadOnly},
    {"TCTL", TCTL, 1, 4, 0, 0x03fffffau, RegKind::kTctl},
    {"TIPG", TIPG, 1, 4, 0, 0x3fffffffu, RegKind::kPlain},
    {"AIT", AIT, 1, 4, 0, 0xffff, RegKind::kPlain},
    {"LEDCTL", LEDCTL, 1, 4, 0x07068302u, kAll, RegKind::kPlain},
    {"PBA", PBA, 1, 4, 0x00100030u, 0xffff, RegKind::kPlain},  // 48 KiB RX / 16 KiB TX
    {"FCRTL", FCRTL, 1, 4, 0, 0x8000fff8u, RegKind::kPlain},
    {"FCRTH", FCRTH, 1, 4, 0, 0xfff8, RegKind::kPlain},
    {"RDFH", RDFH, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"RDFT", RDFT, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"RDFHS", RDFHS, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"RDFTS", RDFTS, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"RDFPC", RDFPC, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"RDBAL", RDBAL, 1, 4, 0, 0xfffffff0u, RegKind::kPlain},
    {"RDBAH", RDBAH, 1, 4, 0, kAll, RegKind::kPlain},
    {"RDLEN", RDLEN, 1, 4, 0, 0x000fff80u, RegKind::kPlain},
    {"RDH", RDH, 1, 4, 0, 0xffff, RegKind::kPlain},
    {"RDT", RDT, 1, 4, 0, 0xffff, RegKind::kRdt},
    {"RDTR", RDTR, 1, 4, 0, 0x8000ffffu, RegKind::kPlain},
    {"RXDCTL", RXDCTL, 1, 4, 0x00010000u, 0x01ff3f3fu, RegKind::kPlain},
    {"RADV", RADV, 1, 4, 0, 0xffff, RegKind::kPlain},
    {"RSRPD", RSRPD, 1, 4, 0, 0xfff, RegKind::kPlain},
    {"TXDMAC", TXDMAC, 1, 4, 0, 0x1, RegKind::kPlain},
    {"TDFH", TDFH, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"TDFT", TDFT, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"TDFHS", TDFHS, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"TDFTS", TDFTS, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"TDFPC", TDFPC, 1, 4, 0, 0x1fff, RegKind::kPlain},
    {"TDBAL", TDBAL, 1, 4, 0, 0xfffffff0u, RegKind::kPlain},
    {"TDBAH", TDBAH, 1, 4, 0, kAll, RegKind::kPlain},
    {"TDLEN", TDLEN, 1, 4, 0, 0x000fff80u, RegKind::kPlain},
    {"TDH", TDH, 1, 4, 0, 0xffff, RegKind::kPlain},
    {"TDT", TDT, 1, 4, 0, 0xffff, RegKind::kTdt},
    {"TIDV", TIDV, 1, 4, 0, 0xffff, RegKind::kPlain},
    {"TXDCTL", TXDCTL, 1, 4, 0, 0x01ff3f3fu, RegKind::kPlain},
    {"TADV", TADV, 1, 4, 0, 0xffff, RegKind::kPlain},
    {"TSPMT", TSPMT, 1, 4, 0x01000400u, kAll, RegKind::kPlain},
    {"CRCERRS", CRCERRS, 1, 4, 0, 0, RegKind::kStat},
    {"ALGNERRC", ALGNERRC, 1, 4, 0, 0, RegKind::kStat},
    {"SYMERRS", SYMERRS, 1, 4, 0, 0, RegKind::kStat},
    {"RXERRC", RXERRC, 1, 4, 0, 0, RegKind::kStat},
    {"MPC", MPC, 1, 4, 0, 0, RegKind::kStat},
    {"SCC", SCC, 1, 4, 0, 0, RegKind::kStat},
    {"ECOL", ECOL, 1, 4, 0, 0, RegKind::kStat},
    {"MCC", MCC, 1, 4, 0, 0, RegKind::kStat},
    {"LATECOL", LATECOL, 1, 4, 0, 0, RegKind::kStat},
    {"COLC", COLC, 1, 4, 0, 0, RegKind::kStat},
    {"DC", DC, 1, 4, 0, 0, RegKind::kStat},
    {"TNCRS", TNCRS, 1, 4, 0, 0, RegKind::kStat},
    {"SEC", SEC, 1, 4, 0, 0, RegKind::kStat},
    {"CEXTERR", CEXTERR, 1, 4, 0, 0, RegKind::kStat},
    {"RLEC", RLEC, 1, 4, 0, 0, RegKind::kStat},
    {"XONRXC", XONRXC, 1, 4, 0, 0, RegKind::kStat},
    {"XONTXC", XONTXC, 1, 4, 0, 0, RegKind::kStat},
    {"XOFFRXC", XOFFRXC, 1, 4, 0, 0, RegKind::kStat},
    {"XOFFTXC", XOFFTXC, 1, 4, 0, 0, RegKind::kStat},
    {"FCRUC", FCRUC, 1, 4, 0, 0, RegKind::kStat},
    {"PRC64", PRC64, 1, 4, 0, 0, RegKind::kStat},
    {"PRC127", PRC127, 1, 4, 0, 0, RegKind::kStat},
    {"PRC255", PRC255, 1, 4, 0, 0, RegKind::kStat},
    {"PRC511", PRC511, 1, 4, 0, 0, RegKind::kStat},
    {"PRC1023", PRC1023, 1, 4, 0, 0, RegKind::kStat},
    {"PRC1522", PRC1522, 1, 4, 0, 0, RegKind::kStat},
    {"GPRC", GPRC, 1, 4, 0, 0, RegKind::kStat},
    {"BPRC", BPRC, 1, 4, 0, 0, RegKind::kStat},
    {"MPRC", MPRC, 1, 4, 0, 0, RegKind::kStat},
    {"GPTC", GPTC, 1, 4, 0, 0, RegKind::kStat},
    {"GORCL", GORCL, 1, 4, 0, 0, RegKind::kStatLow},
    {"GORCH", GORCH, 1, 4, 0, 0, RegKind::kStatHigh},
    {"GOTCL", GOTCL, 1, 4, 0, 0, RegKind::kStatLow},
    {"GOTCH", GOTCH, 1, 4, 0, 0, RegKind::kStatHigh},
    {"RNBC", RNBC, 1, 4, 0, 0, RegKind::kStat},
    {"RUC", RUC, 1, 4, 0, 0, RegKind::kStat},
    {"RFC", RFC, 1, 4, 0, 0, RegKind::kStat},
    {"ROC", ROC, 1, 4, 0, 0, RegKind::kStat},
    {"RJC", RJC, 1, 4, 0, 0, RegKind::kStat},
    {"MGTPRC", MGTPRC, 1, 4, 0, 0, RegKind::kStat},
    {"MGTPDC", MGTPDC, 1, 4, 0, 0, RegKind::kStat},
    {"MGTPTC", MGTPTC, 1, 4, 0, 0, RegKind::kStat},
    {"TORL", TORL, 1, 4, 0, 0, RegKind::kStatLow},
    {"TORH", TORH, 1, 4, 0, 0, RegKind::kStatHigh},
    {"TOTL", TOTL, 1, 4, 0, 0, RegKind::kStatLow},
    {"TOTH", TOTH, 1, 4, 0, 0, RegKind::kStatHigh},
    {"TPR", TPR, 1, 4, 0, 0, RegKind::kStat},
    {"TPT", TPT, 1, 4, 0, 0, RegKind::kStat},
    {"PTC64", PTC64, 1, 4, 0, 0, RegKind::kStat},
    {"PTC127", PTC127, 1, 4, 0, 0, RegKind::kStat},
    {"PTC255", PTC255, 1, 4, 0, 0, RegKind::kStat},
    {"PTC511", PTC511, 1, 4, 0, 0, RegKind::kStat},
    {"PTC1023", PTC1023, 1, 4, 0, 0, RegKind::kStat},
    {"PTC1522", PTC1522, 1, 4, 0, 0, RegKind::kStat},
    {"MPTC", MPTC, 1, 4, 0, 0, RegKind::kStat},
    {"BPTC", BPTC, 1, 4, 0, 0, RegKind::kStat},
    {"TSCTC", TSCTC, 1, 4, 0, 0, RegKind::kStat},
    {"TSCTFC", TSCTFC, 1, 4, 0, 0, RegKind::kStat},
    {"RXCSUM", RXCSUM, 1, 4, 0, 0x3ff, RegKind::kPlain},
    {"MTA", MTA, kNumMta, 4, 0, kAll, RegKind::kPlain},
    // RA is an array of (RAL, RAH) pairs; RAH writable bits differ, so two interleaved entries.
    {"RAL", RAL0, kNumRar, 8, 0, kAll, RegKind::kPlain},
    {"RAH", RAH0, kNumRar, 8, 0, 0x8003ffffu, RegKind::kPlain},
    {"VFTA", VFTA, kNumVfta, 4, 0, kAll, RegKind::kPlain},
    {"WUC", WUC, 1, 4, 0, 0xf, RegKind::kPlain},
    {"WUFC", WUFC, 1, 4, 0, 0x000f00ffu, RegKind::kPlain},
    {"WUS", WUS, 1, 4, 0, 0x000f00ffu, RegKind::kW1c},
    {"MANC", MANC, 1, 4, 0, kAll, RegKind::kPlain},
    {"IPAV", IPAV, 1, 4, 0, 0x1000f, RegKind::kPlain},
    {"IP4AT", IP4AT, 4, 8, 0, kAll, RegKind::kPlain},
    {"IP6AT", IP6AT, 4, 4, 0, kAll, RegKind::kPlain},
    {"WUPL", WUPL, 1, 4, 0, 0, RegKind::kReadOnly},
    {"WUPM", WUPM, 32, 4, 0, 0, RegKind::kReadOnly},
    {"FFLT", FFLT, 4, 8, 0, 0x7ff, RegKind::kPlain},
    {"FFMT", FFMT, 128, 8, 0, 0xf, RegKind::kPlain},
    {"FFVT", FFVT, 128, 8, 0, 0xff, RegKind::kPlain},
};

// Dword index -> table index + 1 (0 = unknown). Built once; 64 KiB.
struct Index {
  std::array<uint16_t, kMmioSize / 4> slot{};
  Index() {
    for (size_t i = 0; i < std::size(kTable); ++i) {
      const RegisterInfo& r = kTable[i];
      for (uint32_t n = 0; n < r.count; ++n) {
        uint32_t off = r.offset + n * r.stride;
        if (off < kMmioSize) slot[off / 4] = static_cast<uint16_t>(i + 1);
      }
    }
  }
};

}  // namespace

std::span<const RegisterInfo> register_table() {
  return kTable;
}

const RegisterInfo* find_register(uint32_t offset) {
  static const Index index;
  if (offset >= kMmioSize || (offset & 3)) return nullptr;
  uint16_t s = index.slot[offset / 4];
  return s ? &kTable[s - 1] : nullptr;
}

}  // namespace side::e1000
