// Register file, MMIO/I/O dispatch, EEPROM/PHY access, resets and interrupts of the 82540EM model. TX and RX
// processing live in tx.cc and rx.cc.
#include "devices/e1000/e1000.h"

#include <chrono>
#include <cinttypes>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"
#include "devices/e1000/registers.h"

namespace side::e1000 {

pci::Identity make_identity(const Config& c) {
  pci::Identity id;
  id.vendor_id = kVendorIntel;
  id.device_id = kDevice82540EM;
  id.subsystem_vendor_id = c.subsystem_vendor_id;
  id.subsystem_id = c.subsystem_id;
  id.revision = c.revision;
  id.class_code = 0x020000;  // network controller, Ethernet
  id.interrupt_pin = 1;      // INTA#
  return id;
}

namespace {

std::array<pci::BarSpec, pci::kNumBars> make_bars() {
  std::array<pci::BarSpec, pci::kNumBars> bars{};
  bars[0] = {pci::BarKind::kMemory32, kMmioSize, false};
  bars[1] = {pci::BarKind::kIo, kIoSize, false};
  return bars;
}

EepromIds make_eeprom_ids(const Config& c) {
  EepromIds ids;
  ids.mac = c.mac;
  ids.subsystem_id = c.subsystem_id;
  ids.subsystem_vendor_id = c.subsystem_vendor_id;
  return ids;
}

// The bus's clock and timer replace whatever the configuration carried.
Config on_bus(const pci::DeviceContext& context, Config config) {
  config.now_ns = context.now_ns;
  config.arm_timer = context.arm_timer;
  return config;
}

}  // namespace

E1000::E1000(const pci::DeviceContext& context, Config config)
    : E1000(context.iommu, on_bus(context, std::move(config))) {}

E1000::E1000(iommu::Iommu& iommu, Config config)
    : pci::PciDevice(make_identity(config), make_bars()),
      iommu_(iommu),
      cfg_(std::move(config)),
      regs_(kMmioSize / 4, 0),
      eeprom_(make_eeprom_ids(cfg_)),
      link_up_(cfg_.link_up) {
  // Power management capability (PCI PM 1.1) at 0xDC as on the 82540EM (section 4.1 PCI configuration space):
  // PMC = version 2 with D3cold PME support bits clear; PMCSR power state and PME_En writable, PME_Status RW1C.
  const uint8_t body[6] = {0x22, 0x00, 0x00, 0x00, 0x00, 0x00};
  const uint8_t wmask[6] = {0x00, 0x00, 0x03, 0x01, 0x00, 0x00};
  const uint8_t w1c[6] = {0x00, 0x00, 0x00, 0x80, 0x00, 0x00};
  Status s = PciDevice::config_.add_capability(0xdc, pci::kCapIdPowerManagement, body, wmask, w1c);
  if (!s) logf(LogLevel::kError, "side: e1000: %s", s.error().message.c_str());
  phy_.set_link(link_up_);
  std::lock_guard lock(mu_);
  software_reset();
  counters_.device_resets = 0;
}

uint64_t E1000::now() const {
  if (cfg_.now_ns) return cfg_.now_ns();
  return monotonic_ns();
}

// ---- Resets --------------------------------------------------------------------------------------------------

void E1000::load_mac_from_eeprom() {
  // After reset the first receive address comes from EEPROM words 0..2 (section 5.6.1) and is valid.
  uint32_t ral = 0, rah = 0;
  for (int i = 0; i < 2; ++i) ral |= static_cast<uint32_t>(eeprom_.word(i)) << (16 * i);
  rah = eeprom_.word(2) | RAH_AV;
  r(RAL0) = ral;
  r(RAH0) = rah;
}

void E1000::software_reset() {
  // CTRL.RST (section 13.4.1): all registers except PCI configuration back to their reset values, EEPROM
  // reloaded. The PHY is untouched (it has its own reset, CTRL.PHY_RST).
  std::memset(regs_.data(), 0, regs_.size() * sizeof regs_[0]);  // 128 KiB: one memset, not a loop
  for (const RegisterInfo& info : register_table()) {
    for (uint32_t n = 0; n < info.count; ++n) regs_[(info.offset + n * info.stride) >> 2] = info.reset;
  }
  load_mac_from_eeprom();
  eeprom_.reset_interface();
  tx_reset_frame();
  tx_.ctx = TxContext{};
  io_addr_ = 0;
  deadline_.reset();
  have_last_assert_ = false;
  if (irq_request_) {
    irq_request_ = false;
    set_irq_request(false);
  }
  ++counters_.device_resets;
}

void E1000::reset() {
  std::lock_guard lock(mu_);
  reset_config();
  phy_.reset();
  phy_.set_link(link_up_);
  software_reset();
  pending_tx_.clear();
  pending_tx_bytes_ = 0;
  tx_more_ = false;
  // Frames held for the next driver (hold_received_frames) stay: recovery resets the device while it holds them.
}

// ---- PCI entry points ----------------------------------------------------------------------------------------

uint32_t E1000::config_read(uint32_t offset, unsigned width) {
  std::lock_guard lock(mu_);
  return PciDevice::config_read(offset, width);
}

void E1000::config_write(uint32_t offset, unsigned width, uint32_t value) {
  std::lock_guard lock(mu_);
  PciDevice::config_write(offset, width, value);
}

uint64_t E1000::bar_read(int bar, uint64_t offset, unsigned width) {
  std::lock_guard lock(mu_);
  uint64_t ones = width >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * width)) - 1;
  if (width != 1 && width != 2 && width != 4 && width != 8) {
    note_unknown("bad read width", static_cast<uint32_t>(offset), width);
    return ~uint64_t{0};
  }
  if (bar == 0) {
    if (offset >= kMmioSize || kMmioSize - offset < width) {
      note_unknown("read outside BAR0", static_cast<uint32_t>(offset), 0);
      return ones;
    }
    uint32_t off = static_cast<uint32_t>(offset);
    if (width == 8) {
      if (off & 3) return ones;
      uint64_t lo = reg_read(off), hi = reg_read(off + 4);
      return lo | (hi << 32);
    }
    unsigned shift = (off & 3) * 8;
    if ((off & 3) + width > 4) {
      note_unknown("read crossing a register", off, width);
      return ones;
    }
    return (reg_read(off & ~3u) >> shift) & ones;
  }
  if (bar == 1) {
    // I/O window (section 13.1.2): IOADDR at 0 selects a register, IODATA at 4 accesses it. 32-bit only.
    if (width != 4 || offset >= kIoSize) return ones;
    if (offset == 0) return io_addr_;
    if (offset == 4) {
      uint32_t target = io_addr_ & (kMmioSize - 4);
      return reg_read(target);
    }
    return 0;  // reserved within the window
  }
  return ones;
}

void E1000::bar_write(int bar, uint64_t offset, unsigned width, uint64_t value) {
  {
    std::lock_guard lock(mu_);
    if (width != 1 && width != 2 && width != 4 && width != 8) {
      note_unknown("bad write width", static_cast<uint32_t>(offset), width);
    } else if (bar == 0) {
      if (offset >= kMmioSize || kMmioSize - offset < width) {
        note_unknown("write outside BAR0", static_cast<uint32_t>(offset), static_cast<uint32_t>(value));
      } else {
        uint32_t off = static_cast<uint32_t>(offset);
        if (width == 8) {
          if ((off & 3) == 0) {
            reg_write(off, static_cast<uint32_t>(value));
            reg_write(off + 4, static_cast<uint32_t>(value >> 32));
          }
        } else if ((off & 3) + width > 4) {
          note_unknown("write crossing a register", off, static_cast<uint32_t>(value));
        } else if (width == 4) {
          reg_write(off, static_cast<uint32_t>(value));
        } else {
          // Sub-dword write: merge into the current value (no read side effects) and write the dword.
          unsigned shift = (off & 3) * 8;
          uint32_t mask = ((1u << (8 * width)) - 1) << shift;
          uint32_t merged = (r(off & ~3u) & ~mask) | ((static_cast<uint32_t>(value) << shift) & mask);
          reg_write(off & ~3u, merged);
        }
      }
    } else if (bar == 1) {
      if (width == 4 && offset == 0) {
        io_addr_ = static_cast<uint32_t>(value) & 0x0001fffcu;
      } else if (width == 4 && offset == 4) {
        reg_write(io_addr_ & (kMmioSize - 4), static_cast<uint32_t>(value));
      } else {
        note_unknown("I/O BAR write ignored", static_cast<uint32_t>(offset), static_cast<uint32_t>(value));
      }
    }
    if (holding_) {
      // The next driver owns the receiver from its first write of RCTL; it may have enabled it, or given descriptors.
      if (bar == 0 && (offset & ~uint64_t{3}) == RCTL) detached_ = false;
      release_held();
    }
  }
  deliver_pending_tx();
}

void E1000::deliver_pending_tx() {
  std::lock_guard order(deliver_mu_);
  std::vector<std::vector<uint8_t>>& frames = delivering_;
  // Bounded: every resumed kick consumes at least one descriptor, and a kick never passes TDT.
  for (;;) {
    FrameSink sink;
    {
      std::lock_guard lock(mu_);
      // The last batch's buffers go back for the next frames.
      for (auto& f : frames) {
        if (spare_tx_.size() >= kSpareTxBuffers) break;
        f.clear();
        spare_tx_.push_back(std::move(f));
      }
      frames.clear();
      if (pending_tx_.empty() && !tx_more_) return;
      if (pending_tx_.empty()) {
        kick_tx();
        if (pending_tx_.empty()) return;
      }
      frames.swap(pending_tx_);
      pending_tx_bytes_ = 0;
      sink = sink_;
    }
    if (sink) {
      for (const auto& f : frames) sink(f);
    }
  }
}

std::vector<uint8_t> E1000::spare_tx_buffer() {
  if (spare_tx_.empty()) return {};
  std::vector<uint8_t> b = std::move(spare_tx_.back());
  spare_tx_.pop_back();
  return b;
}

void E1000::set_frame_sink(FrameSink sink) {
  std::lock_guard lock(mu_);
  sink_ = std::move(sink);
}

void E1000::set_link(bool up) {
  {
    std::lock_guard lock(mu_);
    if (up == link_up_) return;
    link_up_ = up;
    phy_.set_link(up);
  }
  // STATUS.LU is new: a copy of STATUS is brought up to date before the interrupt that announces it.
  registers_changed();
  std::lock_guard lock(mu_);
  raise(ICR_LSC);
}

// STATUS (read after every flushed write) and EECD (read for every EEPROM bit the driver clocks in) read without
// side effects. EECD changes only with a register write (its own, CTRL's reset, one through the I/O window) or a
// device reset, never by itself: its copy is exact once the writes before the read are carried out. Writes to EECD
// change no other copy; those to the rings' tails and the interrupt masks change none. An EECD write drives only
// the EEPROM's pins, whose one output is EECD's DO (the EEPROM's words cannot be written through them): nothing but
// an EECD read sees it, so a STATUS read need not wait for it. Not so the interrupt masks (the line) or the tails
// (DMA): a STATUS read after those is the driver's flush and waits for them.
pci::PciDevice::RegisterShadows E1000::register_shadows() const {
  return {{{0, STATUS}, {0, EECD}}, {{0, EECD}, {0, TDT}, {0, RDT}, {0, IMS}, {0, IMC}}, {{0, EECD}}};
}

Counters E1000::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

bool E1000::link_up() const {
  std::lock_guard lock(mu_);
  return link_up_;
}

pci::PciDevice::NamedCounters E1000::model_counters() const {
  const Counters c = counters();
  return {{"tx_frames", c.tx_frames},
          {"tx_packets", c.tx_packets},
          {"tx_bytes", c.tx_bytes},
          {"tx_tso_segments", c.tx_tso_segments},
          {"tx_descriptors", c.tx_descriptors},
          {"tx_dropped_oversize", c.tx_dropped_oversize},
          {"tx_dropped_malformed", c.tx_dropped_malformed},
          {"tx_dropped_iommu", c.tx_dropped_iommu},
          {"tx_desc_faults", c.tx_desc_faults},
          {"tx_bad_ring", c.tx_bad_ring},
          {"tx_context_mid_frame", c.tx_context_mid_frame},
          {"rx_frames", c.rx_frames},
          {"rx_bytes", c.rx_bytes},
          {"rx_dropped_link_down", c.rx_dropped_link_down},
          {"rx_dropped_disabled", c.rx_dropped_disabled},
          {"rx_dropped_filtered", c.rx_dropped_filtered},
          {"rx_dropped_size", c.rx_dropped_size},
          {"rx_dropped_no_descriptors", c.rx_dropped_no_descriptors},
          {"rx_dropped_bad_ring", c.rx_dropped_bad_ring},
          {"rx_dropped_iommu", c.rx_dropped_iommu},
          {"rx_held", c.rx_held},
          {"rx_dropped_held", c.rx_dropped_held},
          {"iommu_faults", c.iommu_faults},
          {"irq_assertions", c.irq_assertions},
          {"irq_throttled", c.irq_throttled},
          {"device_resets", c.device_resets},
          {"unknown_accesses", c.unknown_accesses}};
}

net::NicCounters E1000::nic_counters() const {
  const Counters c = counters();
  net::NicCounters n;
  n.tx_frames = c.tx_frames;
  n.tx_packets = c.tx_packets;
  n.tx_bytes = c.tx_bytes;
  n.rx_frames = c.rx_frames;
  n.rx_bytes = c.rx_bytes;
  n.rx_dropped = c.rx_dropped_link_down + c.rx_dropped_disabled + c.rx_dropped_filtered + c.rx_dropped_size +
                 c.rx_dropped_no_descriptors + c.rx_dropped_bad_ring + c.rx_dropped_iommu + c.rx_dropped_held;
  n.rx_dropped_no_descriptors = c.rx_dropped_no_descriptors;
  n.iommu_faults = c.iommu_faults;
  n.irq_assertions = c.irq_assertions;
  n.irq_throttled = c.irq_throttled;
  return n;
}

std::optional<net::DescriptorRing> E1000::rx_ring() const {
  std::lock_guard lock(mu_);
  const uint64_t base = r(RDBAL) | (uint64_t{r(RDBAH)} << 32);
  if (r(RDLEN) == 0) return std::nullopt;
  return net::DescriptorRing{base, r(RDLEN), 16, 0};
}

uint32_t E1000::peek(uint32_t offset) const {
  std::lock_guard lock(mu_);
  if (offset >= kMmioSize) return 0;
  if ((offset & ~3u) == STATUS) {
    return STATUS_FD | STATUS_SPEED_1000 | STATUS_ASDV_1000 | (link_up_ ? STATUS_LU : 0);
  }
  return r(offset & ~3u);
}

// ---- Register dispatch ---------------------------------------------------------------------------------------

void E1000::note_unknown(const char* what, uint32_t offset, uint32_t value) {
  ++counters_.unknown_accesses;
  // Rate limit: the first 32, then one in 4096. A hostile driver cannot flood the log.
  if (unknown_logged_ < 32 || (counters_.unknown_accesses & 4095) == 0) {
    ++unknown_logged_;
    logf(LogLevel::kDebug, "side: e1000: %s at 0x%05x (value 0x%08x), ignored", what, offset, value);
  }
}

uint32_t E1000::reg_read(uint32_t off) {
  const RegisterInfo* info = find_register(off);
  if (!info) {
    note_unknown("read of unknown register", off, 0);
    return 0;
  }
  uint32_t& v = r(off);
  switch (info->kind) {
    case RegKind::kWriteOnly:
    case RegKind::kImc:
      return 0;
    case RegKind::kStat: {
      uint32_t out = v;
      v = 0;
      return out;
    }
    case RegKind::kStatHigh: {
      uint32_t out = v;
      v = 0;
      r(off - 4) = 0;
      return out;
    }
    case RegKind::kStatus:
      return STATUS_FD | STATUS_SPEED_1000 | STATUS_ASDV_1000 | (link_up_ ? STATUS_LU : 0);
    case RegKind::kEecd: {
      // GNT answers REQ at once (no firmware competes for the EEPROM); PRES: an EEPROM is present; SIZE 0:
      // 64-word part (section 13.4.3).
      uint32_t out = (v & info->writable) | EECD_PRES;
      if (v & EECD_REQ) out |= EECD_GNT;
      if (eeprom_.data_out()) out |= EECD_DO;
      return out;
    }
    case RegKind::kIcr: {
      // Read-to-clear (section 13.4.17). Bit 31 (INT_ASSERTED) reports that a masked-in cause was pending.
      uint32_t out = v;
      if (v & r(IMS)) out |= ICR_INT_ASSERTED;
      v = 0;
      update_irq();
      return out;
    }
    case RegKind::kIcs:
      // ICS is write-only in the manual; real parts read back the ICR value without clearing it.
      return r(ICR);
    default:
      return v;
  }
}

// CTRL: a software reset, or the control bits (and a PHY reset when asked for).
void E1000::write_ctrl(uint32_t& v, uint32_t value, uint32_t writable) {
  if (value & CTRL_RST) {
    software_reset();
    return;
  }
  v = (v & ~writable) | (value & writable);
  if (value & CTRL_PHY_RST) {
    phy_.reset();
    phy_.set_link(link_up_);
  }
}

// ICR (write 1 to clear), ICS (set causes), IMS (enable), IMC (disable): each can change the interrupt line.
void E1000::write_interrupt_register(RegKind kind, uint32_t& v, uint32_t value, uint32_t writable) {
  switch (kind) {
    case RegKind::kIcr:
      v &= ~value;
      break;
    case RegKind::kIcs:
      raise(value & writable);
      return;
    case RegKind::kIms:
      v |= value & writable;
      break;
    default:  // kImc
      r(IMS) &= ~(value & writable);
      break;
  }
  update_irq();
}

void E1000::reg_write(uint32_t off, uint32_t value) {
  const RegisterInfo* info = find_register(off);
  if (!info) {
    note_unknown("write to unknown register", off, value);
    return;
  }
  uint32_t& v = r(off);
  uint32_t w = info->writable;
  switch (info->kind) {
    case RegKind::kPlain:
    case RegKind::kItr:
    case RegKind::kRctl:
      v = (v & ~w) | (value & w);
      return;
    case RegKind::kReadOnly:
    case RegKind::kStat:
    case RegKind::kStatLow:
    case RegKind::kStatHigh:
    case RegKind::kStatus:
      note_unknown("write to read-only register", off, value);
      return;
    case RegKind::kWriteOnly:
      return;
    case RegKind::kW1c:
      v &= ~(value & w);
      return;
    case RegKind::kCtrl:
      write_ctrl(v, value, w);
      return;
    case RegKind::kEecd:
      v = (v & ~w) | (value & w);
      eeprom_.write_pins(v);
      return;
    case RegKind::kEerd:
      do_eerd(value);
      return;
    case RegKind::kMdic:
      do_mdic(value);
      return;
    case RegKind::kIcr:
    case RegKind::kIcs:
    case RegKind::kIms:
    case RegKind::kImc:
      write_interrupt_register(info->kind, v, value, w);
      return;
    case RegKind::kTctl:
      v = (v & ~w) | (value & w);
      kick_tx();
      return;
    case RegKind::kTdt:
      v = value & w;
      kick_tx();
      return;
    case RegKind::kRdt:
      v = value & w;
      return;
  }
}

void E1000::do_eerd(uint32_t value) {
  // Section 13.4.4: writing START reads the word at ADDR; the model completes at once and sets DONE.
  if (!(value & EERD_START)) {
    r(EERD) = value & 0xff00;
    return;
  }
  uint32_t addr = (value >> EERD_ADDR_SHIFT) & 0xff;
  uint16_t data = addr < kEepromWords ? eeprom_.word(addr) : 0;
  r(EERD) = (static_cast<uint32_t>(data) << EERD_DATA_SHIFT) | (addr << EERD_ADDR_SHIFT) | EERD_DONE;
}

void E1000::do_mdic(uint32_t value) {
  // Section 13.4.7: one MDI transaction per write; the model completes it at once (READY set). Only PHY address 1
  // answers; anything else, or an invalid opcode, sets the E bit as the real MDI does when no PHY responds.
  uint32_t phy = (value >> MDIC_PHY_SHIFT) & 0x1f;
  uint8_t reg = (value >> MDIC_REG_SHIFT) & 0x1f;
  uint32_t op = value & (3u << 26);
  uint32_t out = value & ~(MDIC_READY | MDIC_ERROR) & 0x3fffffffu;
  if (phy != kPhyAddress) {
    out |= MDIC_ERROR;
  } else if (op == MDIC_OP_READ) {
    uint16_t data = 0;
    if (phy_.read(reg, &data)) {
      out = (out & ~MDIC_DATA_MASK) | data;
    } else {
      out |= MDIC_ERROR;
    }
  } else if (op == MDIC_OP_WRITE) {
    if (!phy_.write(reg, static_cast<uint16_t>(value & MDIC_DATA_MASK))) out |= MDIC_ERROR;
  } else {
    out |= MDIC_ERROR;
  }
  r(MDIC) = out | MDIC_READY;
  if (value & MDIC_INT_EN) raise(ICR_MDAC);
}

// ---- Statistics ----------------------------------------------------------------------------------------------

void E1000::stat_inc(uint32_t reg, uint32_t by) {
  uint32_t& v = r(reg);
  v = v > 0xffffffffu - by ? 0xffffffffu : v + by;
}

void E1000::stat_add64(uint32_t low_reg, uint64_t by) {
  uint64_t cur = r(low_reg) | (uint64_t{r(low_reg + 4)} << 32);
  cur = cur > ~uint64_t{0} - by ? ~uint64_t{0} : cur + by;
  r(low_reg) = static_cast<uint32_t>(cur);
  r(low_reg + 4) = static_cast<uint32_t>(cur >> 32);
}

void E1000::count_size_bucket(uint32_t first, size_t n) {
  // PRC64/PTC64 .. PRC1522/PTC1522 are consecutive: 64, 65-127, 128-255, 256-511, 512-1023, 1024-1522 bytes.
  uint32_t idx = n <= 64 ? 0 : n <= 127 ? 1 : n <= 255 ? 2 : n <= 511 ? 3 : n <= 1023 ? 4 : n <= 1522 ? 5 : 6;
  if (idx < 6) stat_inc(first + 4 * idx);
}

// ---- Interrupts ----------------------------------------------------------------------------------------------

void E1000::raise(uint32_t causes) {
  r(ICR) |= causes & ICR_VALID_MASK;
  update_irq();
}

void E1000::update_irq() {
  // The line follows (ICR & IMS) (section 13.4.17-21), except that with ITR != 0 two assertions are at least
  // ITR * 256 ns apart (section 13.4.18): a cause arriving inside the window is held until the window ends.
  bool want = (r(ICR) & r(IMS)) != 0;
  if (!want) {
    deadline_.reset();
    if (irq_request_) {
      irq_request_ = false;
      set_irq_request(false);
    }
    return;
  }
  if (irq_request_) return;
  uint64_t interval = uint64_t{r(ITR) & 0xffff} * 256;
  uint64_t t = now();
  if (interval && have_last_assert_ && t >= last_assert_ns_ && t - last_assert_ns_ < interval) {
    uint64_t dl = last_assert_ns_ + interval;
    if (!deadline_ || *deadline_ != dl) {
      deadline_ = dl;
      ++counters_.irq_throttled;
      if (cfg_.arm_timer) cfg_.arm_timer(dl);
    }
    return;
  }
  deadline_.reset();
  irq_request_ = true;
  have_last_assert_ = true;
  last_assert_ns_ = t;
  ++counters_.irq_assertions;
  set_irq_request(true);
}

void E1000::service_timers() {
  std::lock_guard lock(mu_);
  if (deadline_ && now() >= *deadline_) {
    deadline_.reset();
    update_irq();
  }
}

std::optional<uint64_t> E1000::next_deadline_ns() const {
  std::lock_guard lock(mu_);
  return deadline_;
}

}  // namespace side::e1000
