// Fuzz target for the e1000 model, its PCI config space and the IOMMU underneath, structure-aware: the input is a
// program of driver-like operations (set up rings, write context / data / legacy descriptors at the next ring
// position with fuzzed fields, kick TDT, fill buffers, inject frames, register and config accesses, IOMMU churn,
// time). Descriptors start from the shapes Linux's e1000 writes (TSO over IPv4/TCP, UDP/IPv6, checksum offload)
// with one field replaced, so TSO, checksum, VLAN and multi-descriptor states are a few operations deep.
//
// One machine (arena, IOMMU, device) lives for the whole run and is reset between inputs, never rebuilt: the
// reset is a PCI reset of the device, a cleared arena and the IOMMU's mappings re-made, so each input starts from
// the same state and a crash replays from its input alone.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "devices/e1000/e1000.h"
#include "devices/iommu/iommu.h"
#include "devices/net/net_util.h"
#include "fuzz_input.h"

namespace {

using namespace side::e1000;
using namespace side::net;
using side::fuzz::Input;
namespace iommu = side::iommu;

// Arena layout (IOVA = arena offset): TX ring, RX ring, TX buffers (a template packet), RX buffers, a device-read
// only page, a hole, and more bidirectional memory.
constexpr size_t kArena = 64 * 1024;
constexpr uint32_t kTxRing = 0x0000, kRxRing = 0x1000, kTxBuf = 0x2000, kRxBuf = 0x6000;
constexpr uint32_t kReadOnly = 0x8000, kHoleEnd = 0xa000;
constexpr std::array<uint8_t, 6> kMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
// Largest frame the model may ever hand over: a TSO segment (hdr_len + mss) plus a VLAN tag.
constexpr size_t kMaxSentFrame = 255 + 65535 + 4;

struct Sink : side::pci::InterruptSink {
  void set_irq_level(bool) override {}
};

// Ethernet + IPv4 + TCP headers every 1 KiB with a payload pattern between them, for the TX buffers: checksums
// and TSO see real packets unless the fuzzer overwrites them. Built once; copied in at every reset.
const std::vector<uint8_t>& template_packets() {
  static const std::vector<uint8_t> packets = [] {
    std::vector<uint8_t> p(kRxBuf - kTxBuf);
    for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 7 + 3);
    for (size_t off = 0; off + 54 <= p.size(); off += 0x400) {
      uint8_t* f = p.data() + off;
      std::copy(kMac.begin(), kMac.end(), f);
      f[12] = 0x08, f[13] = 0x00;
      f[14] = 0x45, f[15] = 0;
      store_be16(f + 16, 0);
      f[22] = 64, f[23] = 6;
      store_be16(f + 24, 0);
      f[46] = 0x50, f[47] = 0x19;
    }
    return p;
  }();
  return packets;
}

class Machine {
 public:
  Machine() : arena_(kArena, 0), mmu_(arena_.data(), arena_.size(), 8), dev_(mmu_, config()) {
    dev_.set_interrupt_sink(&irq_);
    dev_.set_frame_sink([this](std::span<const uint8_t> f) {
      if (f.size() > kMaxSentFrame) __builtin_trap();
      sent_bytes_ += f.size();
    });
  }

  // Back to the state every input starts from.
  void reset() {
    std::memset(arena_.data(), 0, arena_.size());
    std::memcpy(arena_.data() + kTxBuf, template_packets().data(), template_packets().size());
    mmu_.unmap_all();
    (void)mmu_.map(0, 0, kReadOnly, iommu::Perm::kBidirectional);
    (void)mmu_.map(kReadOnly, kReadOnly, 0x1000, iommu::Perm::kDeviceRead);
    (void)mmu_.map(kHoleEnd, kHoleEnd, kArena - kHoleEnd, iommu::Perm::kBidirectional);
    clock_ = 0;
    dev_.set_link(true);  // before the reset, which clears the link-change cause this may raise
    dev_.reset();
    tx_slots_ = 8, tx_next_ = 0, rx_slots_ = 8;
    sent_bytes_ = 0;
    base_ = dev_.counters();
  }

  void run(Input& in);
  // Invariants that hold whatever the driver did.
  void check() {
    Counters c = dev_.counters();
    if (c.tx_bytes - base_.tx_bytes < sent_bytes_) __builtin_trap();
  }

 private:
  static Config config() {
    Config c;
    c.mac = kMac;
    c.now_ns = [] { return clock_; };
    return c;
  }
  void wr(uint32_t reg, uint32_t v) { dev_.bar_write(0, reg, 4, v); }
  uint8_t* next_tx_desc() {
    uint8_t* d = arena_.data() + kTxRing + (tx_next_ % tx_slots_) * kDescSize;
    tx_next_ = (tx_next_ + 1) % tx_slots_;
    std::memset(d, 0, kDescSize);
    return d;
  }
  uint64_t buffer_address(Input& in);

  void setup_tx(Input& in);
  void setup_rx(Input& in);
  void put_context(Input& in);
  void put_data(Input& in);
  void put_legacy(Input& in);
  void kick(Input& in);
  void register_access(Input& in);
  void fill_buffer(Input& in);
  void inject_frame(Input& in);
  void iommu_churn(Input& in);
  void misc(Input& in);

  static inline uint64_t clock_ = 0;
  std::vector<uint8_t> arena_;
  iommu::Iommu mmu_;
  E1000 dev_;
  Sink irq_;
  uint32_t tx_slots_ = 8, tx_next_ = 0, rx_slots_ = 8;
  size_t sent_bytes_ = 0;
  Counters base_;
  std::vector<uint8_t> frame_;  // the frame being injected, reused
};

void Machine::setup_tx(Input& in) {
  uint8_t shape = in.u8();
  tx_slots_ = 8u * (1 + shape % 8);  // 8..64 descriptors, TDLEN a multiple of 128
  tx_next_ = 0;
  wr(TDBAL, kTxRing);
  wr(TDBAH, 0);
  wr(TDLEN, tx_slots_ * kDescSize);
  wr(TDH, 0);
  wr(TDT, 0);
  if (shape & 0x40) wr(CTRL, CTRL_VME | 0x40 /* SLU */);
  if (shape & 0x80) wr(VET, in.u16());
  wr(TCTL, TCTL_EN | ((shape & 0x20) ? TCTL_PSP : 0));
}

void Machine::setup_rx(Input& in) {
  uint8_t shape = in.u8();
  rx_slots_ = 8u * (1 + shape % 4);
  uint32_t bsize = 256;  // RCTL.BSIZE 11b: 256-byte buffers, so a ring of them fits the RX buffer area
  for (uint32_t i = 0; i < rx_slots_; ++i) {
    uint8_t* d = arena_.data() + kRxRing + i * kDescSize;
    std::memset(d, 0, kDescSize);
    store_le64(d, kRxBuf + (i * bsize) % 0x2000);
  }
  wr(RDBAL, kRxRing);
  wr(RDBAH, 0);
  wr(RDLEN, rx_slots_ * kDescSize);
  wr(RDH, 0);
  wr(RDT, in.u8() % rx_slots_);
  wr(RXCSUM, (shape & 0x10) ? RXCSUM_IPOFL | RXCSUM_TUOFL | in.u8() : 0);
  uint32_t rctl = RCTL_EN | RCTL_BAM | (3u << RCTL_BSIZE_SHIFT);
  if (shape & 0x20) rctl |= RCTL_LPE;
  if (shape & 0x40) rctl |= RCTL_SECRC | RCTL_VFE;
  if (shape & 0x80) rctl |= RCTL_UPE | RCTL_MPE;
  wr(RCTL, rctl);
}

uint64_t Machine::buffer_address(Input& in) {
  uint8_t sel = in.u8();
  if (sel < 0xf0) return kTxBuf + (sel % 16) * 0x400 + (sel / 16) * 7;  // template packets, some misaligned
  if (sel < 0xf8) return kReadOnly + in.u16() % 0x2000;                 // read-only page, hole
  return in.u32();                                                      // anywhere
}

void Machine::put_context(Input& in) {
  // Linux shapes: TSO IPv4/TCP (e1000_tso), TSO IPv6/TCP, checksum offload only (e1000_tx_csum), all raw.
  uint8_t shape = in.u8();
  uint8_t f[16] = {14, 24, 33, 0, 34, 50, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0};
  uint8_t tucmd = TUCMD_TCP | TUCMD_IP | TUCMD_TSE;
  // MSS as Linux picks it (>= 64); the raw shape still reaches 0 and 1, whose thousands of segments per packet
  // would otherwise dominate the run time.
  uint16_t mss = static_cast<uint16_t>(64 + in.u16() % 1437);
  switch (shape % 4) {
    case 1:  // IPv6: IPCSS 14, TUCSS 54, TUCSO 70, header 74
      f[0] = 14, f[4] = 54, f[5] = 70, f[13] = 74;
      tucmd = TUCMD_TCP | TUCMD_TSE;
      break;
    case 2:
      tucmd = TUCMD_TCP | TUCMD_IP;
      f[13] = 0, mss = 0;
      break;
    case 3:
      in.bytes(f, 8);
      f[13] = in.u8();
      tucmd = in.u8();
      break;
  }
  // Then up to two fields replaced: this is how a context gets offsets that no longer fit its header.
  for (int i = 0; i < ((shape >> 2) & 3); ++i) {
    uint8_t which = in.u8() % 16;
    f[which] = in.u8();
  }
  uint8_t* d = next_tx_desc();
  std::memcpy(d, f, 8);
  store_le32(d + 8, (in.u16() & 0xfffff) | (DTYP_CONTEXT << 20) |
                        (static_cast<uint32_t>((tucmd | TXD_CMD_DEXT) & ~0x10) << 24));
  if (shape & 0x10) d[11] |= TXD_CMD_RS;
  d[13] = f[13];
  store_le16(d + 14, (shape & 0x20) ? load_le16(f + 14) : mss);
}

void Machine::put_data(Input& in) {
  uint8_t flags = in.u8();
  uint64_t addr = buffer_address(in);
  uint32_t len = (flags & 0x80) ? in.u16() % 9018 : in.u8() * 4u;  // up to a jumbo frame
  uint8_t dcmd = TXD_CMD_DEXT | (flags & (TXD_CMD_EOP | TXD_CMD_TSE | TXD_CMD_RS | TXD_CMD_VLE));
  uint8_t popts = (flags >> 4) & (POPTS_IXSM | POPTS_TXSM);
  uint8_t* d = next_tx_desc();
  store_le64(d, addr);
  store_le32(d + 8, (len & 0xfffff) | (DTYP_DATA << 20) | (static_cast<uint32_t>(dcmd) << 24));
  d[13] = popts;
  if (dcmd & TXD_CMD_VLE) store_le16(d + 14, in.u16());
}

void Machine::put_legacy(Input& in) {
  uint8_t flags = in.u8();
  uint64_t addr = buffer_address(in);
  uint16_t len = (flags & 0x80) ? in.u16() : static_cast<uint16_t>(in.u8() * 4u);
  uint8_t* d = next_tx_desc();
  store_le64(d, addr);
  store_le16(d + 8, len);
  d[11] = flags & (TXD_CMD_EOP | TXD_CMD_IC | TXD_CMD_RS | TXD_CMD_VLE);
  if (d[11] & TXD_CMD_IC) d[10] = in.u8(), d[13] = in.u8();  // CSO, CSS
  if (d[11] & TXD_CMD_VLE) store_le16(d + 14, in.u16());
  if (flags & 0x20) in.bytes(d, 16);  // a raw descriptor: any type, any reserved bits
}

void Machine::kick(Input& in) {
  uint8_t how = in.u8();
  if (how < 0xe0) {
    wr(TDT, tx_next_);
  } else if (how < 0xf0) {
    wr(TDH, in.u8() % tx_slots_);  // the driver rewinding the head (as after a reset)
  } else {
    wr(TDT, in.u32());  // any value, in range or not
  }
}

void Machine::register_access(Input& in) {
  static constexpr uint32_t kRegs[] = {CTRL, STATUS, EECD,   EERD,   MDIC,   VET,   ICR,   ITR,   ICS,  IMS, IMC,
                                       RCTL, TCTL,   RDBAL,  RDLEN,  RDH,    RDT,   TDBAL, TDLEN, TDH,  TDT, RXCSUM,
                                       TIPG, 0x5400, 0x5404, 0x5200, 0x5600, TSCTC, MPC,   TPT,   GPTC, 0x0};
  uint8_t sel = in.u8();
  uint32_t off = sel < 0xe0 ? kRegs[sel % std::size(kRegs)] : (in.u16() % 0x20000u);
  static const unsigned kWidths[4] = {4, 4, 2, 1};
  unsigned width = sel < 0xe0 ? 4 : kWidths[in.u8() & 3];
  if (sel & 1) {
    (void)dev_.bar_read(0, off, width);
  } else {
    dev_.bar_write(0, off, width, in.u32());
  }
}

void Machine::fill_buffer(Input& in) {
  uint32_t off = in.u16() % kArena;
  uint32_t len = in.u8() % 64;
  for (uint32_t i = 0; i < len && off + i < kArena; ++i) arena_[off + i] = in.u8();
}

void Machine::inject_frame(Input& in) {
  uint8_t shape = in.u8();
  // Mostly Ethernet-sized frames; one in four up to beyond the jumbo limit (these cost a 16 KiB copy and CRC).
  size_t len = (shape & 0xc0) == 0xc0 ? in.u16() % 16500 : 14 + in.u8() * 6u;
  std::vector<uint8_t>& f = frame_;
  f.assign(len, 0);  // nothing left over from an earlier input
  // The TX template (to our MAC, IPv4/TCP) with up to 64 fuzzed bytes over its headers.
  std::copy_n(arena_.data() + kTxBuf, std::min(len, size_t{0x400}), f.begin());
  size_t patch = std::min<size_t>(len, shape & 0x3f);
  uint32_t at = in.u8();
  for (size_t i = 0; i < patch && at + i < len; ++i) f[at + i] = in.u8();
  if ((shape & 0xc0) == 0x40 && len >= 6) std::fill_n(f.begin(), 6, 0xff);  // broadcast
  (void)dev_.receive(f);
}

void Machine::iommu_churn(Input& in) {
  uint64_t iova = (in.u8() % 24) * iommu::kPageSize;
  uint64_t len = (in.u8() % 4) * iommu::kPageSize;
  uint8_t how = in.u8();
  if (how & 1) {
    (void)mmu_.map(iova, iova % kArena, len, static_cast<iommu::Perm>((how >> 1) % 4));
  } else {
    (void)mmu_.unmap(iova, len);
  }
}

void Machine::misc(Input& in) {
  switch (in.u8() % 6) {
    case 0:
      clock_ += in.u32();
      dev_.service_timers();
      break;
    case 1:
      dev_.set_link(in.u8() & 1);
      break;
    case 2:
      dev_.reset();
      break;
    case 3: {
      uint32_t off = in.u16() % 300;
      unsigned w = in.u8() % 5;
      if (w & 1) {
        dev_.config_write(off, w, in.u32());
      } else {
        (void)dev_.config_read(off, w);
      }
      break;
    }
    case 4: {  // the I/O window
      dev_.bar_write(1, 0, 4, in.u16() & 0x1fffc);
      if (in.u8() & 1) {
        dev_.bar_write(1, 4, 4, in.u32());
      } else {
        (void)dev_.bar_read(1, 4, 4);
      }
      break;
    }
    default: {  // any BAR, any width, any offset
      int bar = in.u8() % 4;
      uint64_t off = in.u32();
      unsigned w = in.u8() % 10;
      if (in.u8() & 1) {
        dev_.bar_write(bar, off, w, in.u64());
      } else {
        (void)dev_.bar_read(bar, off, w);
      }
    }
  }
}

void Machine::run(Input& in) {
  for (int ops = 0; !in.done() && ops < 4096; ++ops) {
    switch (in.u8() % 12) {
      case 0:
        setup_tx(in);
        break;
      case 1:
      case 2:
        put_context(in);
        break;
      case 3:
      case 4:
        put_data(in);
        break;
      case 5:
        put_legacy(in);
        break;
      case 6:
        kick(in);
        break;
      case 7:
        register_access(in);
        break;
      case 8:
        fill_buffer(in);
        break;
      case 9:
        setup_rx(in);
        inject_frame(in);
        break;
      case 10:
        inject_frame(in);
        break;
      default:
        if (in.u8() & 1) {
          iommu_churn(in);
        } else {
          misc(in);
        }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Machine* machine = [] {
    side::set_log_sink([](side::LogLevel, std::string_view) {});
    return new Machine();
  }();
  machine->reset();
  Input in{data, size};
  machine->run(in);
  machine->check();
  return 0;
}
