// Intel 82540EM (PCI 8086:100E) gigabit Ethernet controller model, good enough for Linux 6.1's unmodified e1000
// driver: probe (EEPROM, PHY), reset through the I/O BAR, link up, interrupts with ITR throttling, legacy and
// extended (context/data) TX descriptors with checksum offload and TSO, legacy RX descriptors with L2 filtering.
//
// BARs: BAR0 = 128 KiB memory (registers, section 13), BAR1 = 64-byte I/O window (IOADDR at 0, IODATA at 4,
// section 13.1.2). No flash BAR (the 82540EM has none) and no expansion ROM.
//
// DMA: the model only ever sees an iommu::Iommu; every descriptor and buffer access is an IOVA. An IOMMU fault
// during TX or RX drops that frame (counted) and leaves the rings consistent; it never aborts.
//
// Thread-safety: every public member takes one internal mutex, so MMIO/config accesses from the supervisor's
// domain thread, receive() from a backend thread and service_timers() from a timer thread may interleave. Callbacks
// (InterruptSink, the clock, the timer hook) run with that mutex held and must not call back into the device. The
// frame sink runs *after* the mutex is released (so it may call receive(), e.g. for loopback); frames from one
// TX kick are delivered in order.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "common/adaptive_mutex.h"
#include "devices/e1000/eeprom.h"
#include "devices/e1000/phy.h"
#include "devices/e1000/registers.h"
#include "devices/e1000/regs.h"
#include "devices/iommu/iommu.h"
#include "devices/net/nic.h"
#include "devices/pci/pci_device.h"

namespace side::e1000 {

// Largest non-TSO frame the TX path assembles (section 3.3.1: 16 KiB jumbo limit), and the largest TSO payload
// (the driver never asks for more than 64 KiB; anything beyond is dropped as malformed).
inline constexpr size_t kMaxTxFrame = 16384;
inline constexpr size_t kMaxTsoPayload = 256 * 1024;
// Largest frame receive() accepts with RCTL.LPE (without FCS).
inline constexpr size_t kMaxRxFrame = 16384 - 4;

// kDroppedDisabled: RCTL.EN clear; kDroppedSize: runt or longer than LPE allows; kDroppedNoDescriptors: not
// enough descriptors between RDH and RDT (RXO, MPC); kDroppedBadRing: RDLEN/RDH/RDT inconsistent.
using RxResult = net::RxResult;

struct Counters {
  uint64_t tx_frames = 0;   // frames handed to the sink (TSO segments count individually)
  uint64_t tx_packets = 0;  // packets whose last descriptor was processed (sent or dropped)
  uint64_t tx_bytes = 0;
  uint64_t tx_tso_segments = 0;
  uint64_t tx_descriptors = 0;  // descriptors consumed
  uint64_t tx_dropped_oversize = 0;
  uint64_t tx_dropped_malformed = 0;  // bad context (offsets outside the frame, zero MSS, huge TSO)
  uint64_t tx_dropped_iommu = 0;      // frames dropped because a buffer read faulted
  uint64_t tx_desc_faults = 0;        // descriptor fetches/write-backs that faulted (TX stops)
  uint64_t tx_bad_ring = 0;           // kicks refused because TDLEN/TDH/TDT were inconsistent
  uint64_t tx_context_mid_frame = 0;  // context descriptors inside a packet (they apply to the next packets)
  uint64_t rx_frames = 0;
  uint64_t rx_bytes = 0;
  uint64_t rx_dropped_link_down = 0;
  uint64_t rx_dropped_disabled = 0;
  uint64_t rx_dropped_filtered = 0;
  uint64_t rx_dropped_size = 0;
  uint64_t rx_dropped_no_descriptors = 0;
  uint64_t rx_dropped_bad_ring = 0;
  uint64_t rx_dropped_iommu = 0;
  uint64_t rx_held = 0;           // frames kept while no driver was attached (hold_received_frames)
  uint64_t rx_dropped_held = 0;   // ... refused because the hold was full
  uint64_t iommu_faults = 0;      // faults this device caused (TX + RX)
  uint64_t irq_assertions = 0;    // rising edges of the interrupt request
  uint64_t irq_throttled = 0;     // assertions deferred by ITR
  uint64_t device_resets = 0;     // CTRL.RST and reset()
  uint64_t unknown_accesses = 0;  // unknown register / read-only write / bad width
};

struct Config {
  std::array<uint8_t, 6> mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  uint16_t subsystem_vendor_id = kVendorIntel;
  uint16_t subsystem_id = kSubsystem82540EM;
  uint8_t revision = 0x03;
  bool link_up = true;
  // Monotonic clock in ns for ITR throttling. Defaults to std::chrono::steady_clock.
  std::function<uint64_t()> now_ns;
  // Called (mutex held) whenever the model needs service_timers() at or after `deadline_ns`. Optional: the
  // supervisor may instead poll next_deadline_ns().
  std::function<void(uint64_t deadline_ns)> arm_timer;
};

// The offsets and sizes of a TCP/IP context descriptor (section 3.3.6), as the TX path keeps them.
struct TxContext {
  uint8_t ipcss = 0, ipcso = 0, tucss = 0, tucso = 0;
  uint16_t ipcse = 0, tucse = 0;
  uint32_t paylen = 0;
  uint16_t mss = 0;
  uint8_t hdr_len = 0;
  uint8_t tucmd = 0;
};

using FrameSink = net::FrameSink;

// The PCI identity of a device built with `config` (what its config space reports).
pci::Identity make_identity(const Config& config);

class E1000 final : public pci::PciDevice, public net::Nic {
 public:
  E1000(iommu::Iommu& iommu, Config config);
  // As plugged into a bus slot: DMA through the slot's IOMMU, the bus's clock and timer.
  E1000(const pci::DeviceContext& context, Config config);

  uint32_t config_read(uint32_t offset, unsigned width) override;
  void config_write(uint32_t offset, unsigned width, uint32_t value) override;
  uint64_t bar_read(int bar, uint64_t offset, unsigned width) override;
  void bar_write(int bar, uint64_t offset, unsigned width, uint64_t value) override;
  // PCI/power-on reset: config space, registers, PHY, EEPROM interface, TX state, interrupt line.
  void reset() override;

  // Frames the device transmits (FCS not included). Set before enabling TX.
  void set_frame_sink(FrameSink sink) override;
  // A frame arriving from the wire (without FCS). Shorter frames than 60 bytes are padded as the wire would.
  RxResult receive(std::span<const uint8_t> frame) override;
  // Carrier up/down: updates STATUS.LU and the PHY, raises ICR.LSC.
  void set_link(bool up) override;
  // STATUS is computed from the link alone and reads without side effects; e1000 reads it after every write it
  // flushes (E1000_WRITE_FLUSH), thousands of times while it clocks its EEPROM in probe. No write changes it but a
  // link change (set_link); EECD (the EEPROM's clock and data), the ring tails and the interrupt masks are the
  // writes a driver makes between such reads.
  RegisterShadows register_shadows() const override;
  void hold_received_frames(bool hold) override;
  // The bound of what hold_received_frames() keeps: a second of 64-byte frames at a few hundred kpps would be
  // more than a driver's ring; this is two full default rings.
  static constexpr size_t kMaxHeldFrames = 512;
  static constexpr size_t kMaxHeldBytes = 1 << 20;
  bool link_up() const override;
  std::array<uint8_t, 6> mac() const override { return cfg_.mac; }
  net::NicCounters nic_counters() const override;
  // RDBAL/RDBAH/RDLEN: legacy receive descriptors of 16 bytes, the buffer address first (section 3.2.3).
  std::optional<net::DescriptorRing> rx_ring() const override;
  net::Nic* nic() override { return this; }
  NamedCounters model_counters() const override;

  // Runs expired timers (ITR-deferred interrupt). Cheap; may be called at any time.
  void service_timers() override;
  std::optional<uint64_t> next_deadline_ns() const override;

  Counters counters() const;
  // Register value without read side effects (tests, debugging).
  uint32_t peek(uint32_t offset) const;
  const Eeprom& eeprom() const { return eeprom_; }

 private:
  // MMIO dispatch (mutex held).
  uint32_t reg_read(uint32_t offset);
  void reg_write(uint32_t offset, uint32_t value);
  void write_ctrl(uint32_t& v, uint32_t value, uint32_t writable);
  void write_interrupt_register(RegKind kind, uint32_t& v, uint32_t value, uint32_t writable);
  uint32_t& r(uint32_t offset) { return regs_[offset >> 2]; }
  uint32_t r(uint32_t offset) const { return regs_[offset >> 2]; }
  void note_unknown(const char* what, uint32_t offset, uint32_t value);
  void software_reset();
  void load_mac_from_eeprom();
  void do_mdic(uint32_t value);
  void do_eerd(uint32_t value);

  // Interrupts (interrupts.cc-like section of e1000.cc).
  void raise(uint32_t causes);
  void update_irq();
  uint64_t now() const;

  // Statistics helpers: saturating, as the counters do not wrap (section 13.7).
  void stat_inc(uint32_t reg, uint32_t by = 1);
  void stat_add64(uint32_t low_reg, uint64_t by);
  void count_size_bucket(uint32_t first_bucket_reg, size_t size_with_fcs);

  // TX (tx.cc).
  struct TxState {
    TxContext ctx;                // last context descriptor: for the packets that start from now on
    TxContext frame_ctx;          // the context latched by the packet in progress (its first data descriptor)
    std::vector<uint8_t> data;    // frame (or current TSO segment) being assembled
    std::vector<uint8_t> header;  // TSO: the header copied into every segment
    bool in_frame = false;        // a frame has started (descriptors without EOP seen)
    bool tse = false;             // current frame uses TSO
    uint8_t popts = 0;            // from the first data descriptor of the frame
    bool legacy_ic = false;
    uint8_t legacy_cso = 0, legacy_css = 0;
    bool vle = false;
    uint16_t vlan = 0;
    bool drop = false;  // frame already doomed (fault, oversize, malformed): consume until EOP
    uint32_t tso_frames = 0;
    uint32_t tso_sent = 0;   // payload bytes sent in earlier segments
    uint32_t tso_total = 0;  // payload bytes consumed so far
  };
  void kick_tx();
  bool process_tx_descriptor(const uint8_t* desc, uint64_t desc_iova);
  void tx_context_descriptor(const uint8_t* d, uint32_t lower, uint8_t cmd);
  void tx_start_frame(bool tse, uint8_t popts);
  void tx_take_buffer(const uint8_t* d, uint32_t len, uint8_t cmd);
  bool tx_fetch(std::vector<uint8_t>& into, uint64_t from, uint32_t n);
  void tx_append_tso(uint64_t at, uint32_t left);
  void tx_end_frame();
  void tx_append(uint64_t addr, uint32_t len, bool eop);
  void tx_emit(bool last_segment);
  void tx_finish_frame(std::vector<uint8_t>& frame);
  void tx_reset_frame();
  std::vector<std::vector<uint8_t>> pending_tx_;
  size_t pending_tx_bytes_ = 0;
  // Frame buffers the sink is done with, kept (with their capacity) for the next frames: a frame costs no heap
  // allocation once the model has seen a burst. At most kSpareTxBuffers are kept.
  std::vector<std::vector<uint8_t>> spare_tx_;
  static constexpr size_t kSpareTxBuffers = 512;
  std::vector<uint8_t> spare_tx_buffer();
  // Under deliver_mu_: the batch being handed to the sink, its storage reused from one batch to the next.
  std::vector<std::vector<uint8_t>> delivering_;
  // Set when a kick stopped because pending_tx_ reached kMaxPendingTxBytes; bar_write delivers and resumes.
  bool tx_more_ = false;
  static constexpr size_t kMaxPendingTxBytes = 1 << 20;
  static constexpr uint32_t kMaxTsoSegments = 8192;

  // RX (rx.cc).
  std::vector<uint8_t> rx_staging_;  // under mu_
  bool rx_filter(std::span<const uint8_t> frame) const;
  uint32_t rx_buffer_size() const;
  void rx_checksum(std::span<const uint8_t> frame, uint8_t* status, uint8_t* errors) const;
  // receive(), step by step (mu_ held): the frame as the device stores it in rx_staging_, with what its last
  // descriptor will say; then into the ring's buffers; then the statistics and the interrupt.
  struct RxStaged {
    uint16_t special = 0, pkt_csum = 0;
    uint8_t status = 0, errors = 0;
  };
  std::optional<RxResult> rx_refused(std::span<const uint8_t> frame, uint32_t rctl);
  std::optional<RxResult> rx_stage(std::span<const uint8_t> frame, uint32_t rctl, RxStaged& st);
  RxResult rx_store(const RxStaged& st, uint32_t* free_after, uint32_t* ring_size);
  bool rx_fetch_buffers(iommu::Iommu::Burst& dma, uint64_t base, uint32_t head, uint32_t size, uint32_t needed,
                        uint64_t* addrs);
  void rx_account(std::span<const uint8_t> frame, uint32_t rctl, uint32_t free_after, uint32_t ring_size);
  RxResult receive_locked(std::span<const uint8_t> frame);
  // Frames held while no driver was attached (mu_): kept in arrival order; received, oldest first, as soon as the
  // receiver is on and has descriptors for them (a write of RDT or RCTL, or the next frame's arrival).
  bool holding_ = false;
  bool detached_ = false;  // no driver owns the receiver until RCTL is written again
  std::deque<std::vector<uint8_t>> held_;
  size_t held_bytes_ = 0;
  bool rx_room(size_t frame_size) const;
  void release_held();

  void deliver_pending_tx();

  iommu::Iommu& iommu_;
  Config cfg_;
  mutable AdaptiveMutex mu_;
  // Held (before mu_) while frames go to the sink: two threads writing registers at once must not hand over a
  // later kick's frames before an earlier kick's, or the wire would see them out of order.
  std::mutex deliver_mu_;
  std::vector<uint32_t> regs_;
  Eeprom eeprom_;
  Phy phy_;
  TxState tx_;
  FrameSink sink_;
  uint32_t io_addr_ = 0;
  bool link_up_ = true;
  // Interrupt throttling.
  bool irq_request_ = false;
  bool have_last_assert_ = false;
  uint64_t last_assert_ns_ = 0;
  std::optional<uint64_t> deadline_;
  Counters counters_;
  uint64_t unknown_logged_ = 0;
};

}  // namespace side::e1000
