#include "devices/vfio_user/vfio_user_device.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace side::vfio_user {
namespace {

uint64_t all_ones(unsigned width) {
  return width >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * width)) - 1;
}

bool power_of_two(uint64_t v) {
  return v && !(v & (v - 1));
}

// One BAR: its kind from the BAR register, its size from the region. Returns how many BAR slots it takes.
Result<int> discover_bar(Client& client, int bar, pci::BarSpec& spec) {
  const uint64_t size = client.region(kRegionBar0 + bar).size;
  if (size == 0) return 1;
  auto reg = client.read(kRegionConfig, pci::kBar0 + 4 * bar, 4);
  if (!reg) return reg.error();
  const bool io = *reg & 1;
  const bool wide = !io && ((*reg >> 1) & 3) == 2;
  const bool size_ok = io ? size >= 4 && size <= 256 : size >= 16 && size <= (uint64_t{1} << 30);
  if (!size_ok || !power_of_two(size)) {
    return make_error("BAR " + std::to_string(bar) + " has an impossible size " + std::to_string(size));
  }
  if (wide && bar == pci::kNumBars - 1) return make_error("64-bit BAR 5 has no upper half");
  spec.kind = io ? pci::BarKind::kIo : pci::BarKind::kMemory32;  // a 64-bit BAR is placed below 4 GiB
  spec.size = static_cast<uint32_t>(size);
  spec.prefetchable = !io && (*reg & 8);
  return wide ? 2 : 1;
}

}  // namespace

Result<Discovered> discover(Client& client) {
  Discovered d;
  d.config_size = static_cast<uint32_t>(client.region(kRegionConfig).size);
  if (d.config_size != 256 && d.config_size != 4096)
    return make_error("config space of " + std::to_string(d.config_size) + " bytes");
  auto cfg = [&](uint32_t off, unsigned w) { return client.read(kRegionConfig, off, w); };
  auto ids = cfg(pci::kVendorId, 4);
  auto rev_class = cfg(pci::kRevisionId, 4);
  auto subsys = cfg(pci::kSubsystemVendorId, 4);
  auto pin = cfg(pci::kInterruptPin, 1);
  for (auto* r : {&ids, &rev_class, &subsys, &pin}) {
    if (!*r) return r->error();
  }
  d.identity.vendor_id = static_cast<uint16_t>(*ids);
  d.identity.device_id = static_cast<uint16_t>(*ids >> 16);
  d.identity.revision = static_cast<uint8_t>(*rev_class);
  d.identity.class_code = static_cast<uint32_t>(*rev_class >> 8);
  d.identity.subsystem_vendor_id = static_cast<uint16_t>(*subsys);
  d.identity.subsystem_id = static_cast<uint16_t>(*subsys >> 16);
  d.identity.interrupt_pin = static_cast<uint8_t>(*pin);
  if (d.identity.vendor_id == 0xffff || d.identity.vendor_id == 0) return make_error("no function behind the server");
  for (int bar = 0; bar < pci::kNumBars;) {
    auto used = discover_bar(client, bar, d.bars[bar]);
    if (!used) return used.error();
    bar += *used;
  }
  std::array<uint64_t, pci::kNumBars> bar_sizes{};
  for (int bar = 0; bar < pci::kNumBars; ++bar) bar_sizes[bar] = d.bars[bar].size;
  auto read32 = [&](uint32_t off, unsigned w) -> Result<uint32_t> {
    auto v = cfg(off, w);
    if (!v) return v.error();
    return static_cast<uint32_t>(*v);
  };
  SIDE_TRY(d.messages.discover(read32, bar_sizes));
  return d;
}

uint32_t overlay_config_byte(uint32_t offset, unsigned width, uint32_t value, uint32_t at, uint8_t byte) {
  if (width > 4 || at < offset || at - offset >= width) return value;
  const unsigned shift = 8 * (at - offset);
  return (value & ~(uint32_t{0xff} << shift)) | (uint32_t{byte} << shift);
}

VfioUserDevice::VfioUserDevice(const pci::DeviceContext& context, std::string name, const Discovered& found,
                               std::unique_ptr<Client> client, Reconnect reconnect)
    : PciDevice(found.identity, found.bars),
      name_(std::move(name)),
      device_fault_(context.device_fault),
      reconnect_(std::move(reconnect)),
      identity_(found.identity),
      config_size_(found.config_size),
      client_(std::move(client)),
      dma_(context.dma_memory),
      messages_(found.messages) {}

VfioUserDevice::~VfioUserDevice() {
  stop_interrupts();
}

void VfioUserDevice::stop_interrupts() {
  if (irq_thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    irq_thread_.join();
  }
}

// One eventfd per vector the device and the server both have: MSI-X if the server offers it, else MSI, and INTx.
Status VfioUserDevice::make_vector_fds() {
  if (messages_.has_msix()) msix_fds_ = std::min(messages_.msix_vectors(), client_->irq(kIrqMsix).count);
  if (messages_.has_msi()) msi_fds_ = std::min(messages_.msi_vectors(), client_->irq(kIrqMsi).count);
  const uint32_t n = std::max({1u, msix_fds_, msi_fds_});
  for (uint32_t i = 0; i < n; ++i) {
    vectors_.emplace_back(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!vectors_.back()) return make_error(std::string("eventfd: ") + std::strerror(errno));
  }
  return {};
}

Status VfioUserDevice::start() {
  stop_ = Fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_) return make_error(std::string("eventfd: ") + std::strerror(errno));
  SIDE_TRY(make_vector_fds());
  {
    std::lock_guard lock(mu_);
    SIDE_TRY(attach_locked());
  }
  irq_thread_ = std::thread([this] { irq_loop(); });
  return {};
}

// The server learns where interrupts go and which memory the device may reach; both are lost with a connection.
Status VfioUserDevice::attach_locked() {
  dma_mapped_ = false;
  std::vector<int> fds;
  for (const Fd& f : vectors_) fds.push_back(f.get());
  if (client_->irq(kIrqIntx).count) SIDE_TRY(client_->set_irq_eventfd(kIrqIntx, 0, fds[0]));
  if (msix_fds_) {
    SIDE_TRY(client_->set_irq_eventfds(kIrqMsix, 0, std::span<const int>(fds).first(msix_fds_)));
  } else if (msi_fds_) {
    SIDE_TRY(client_->set_irq_eventfds(kIrqMsi, 0, std::span<const int>(fds).first(msi_fds_)));
  }
  if (dma_.fd >= 0 && dma_.size) {
    SIDE_TRY(client_->dma_map(dma_.fd, 0, dma_.bus_base, dma_.size, true));
    dma_mapped_ = true;
  }
  return {};
}

void VfioUserDevice::fault_locked(const std::string& what) {
  ++faults_;
  if (faulted_) return;
  faulted_ = true;
  const std::string why = name_ + " device server: " + what;
  logf(LogLevel::kError, "side: %s", why.c_str());
  if (device_fault_) device_fault_(why);
}

bool VfioUserDevice::usable_locked() {
  if (faulted_) return false;
  if (client_->connection().broken()) {
    fault_locked(client_->connection().broken_reason());
    return false;
  }
  return true;
}

uint32_t VfioUserDevice::config_read(uint32_t offset, unsigned width) {
  std::lock_guard lock(mu_);
  if (offset >= config_size_ || width > config_size_ - offset || !usable_locked()) {
    return static_cast<uint32_t>(all_ones(width));
  }
  ++reads_;
  auto v = client_->read(kRegionConfig, offset, width);
  if (!v) {
    fault_locked("config read at " + std::to_string(offset) + ": " + v.error().message);
    return static_cast<uint32_t>(all_ones(width));
  }
  const auto value = static_cast<uint32_t>(*v);
  return revision_ ? overlay_config_byte(offset, width, value, pci::kRevisionId, *revision_) : value;
}

void VfioUserDevice::present_revision(uint8_t revision) {
  std::lock_guard lock(mu_);
  revision_ = revision;
}

void VfioUserDevice::config_write(uint32_t offset, unsigned width, uint32_t value) {
  std::lock_guard lock(mu_);
  // The mirror decides which BARs decode (and the INTx Disable of the line); the server holds the device's state.
  PciDevice::config_write(offset, width, value);
  if (offset >= config_size_ || width > config_size_ - offset || !usable_locked()) return;
  ++writes_;
  messages_.config_written(offset, width, value);
  if (auto s = client_->write(kRegionConfig, offset, width, value, /*posted=*/false); !s) {
    if (client_->connection().broken()) fault_locked("config write: " + s.error().message);
    ++refused_;  // the server refused the write (a read-only field, say): the device is as it was
  }
}

uint64_t VfioUserDevice::bar_read(int bar, uint64_t offset, unsigned width) {
  std::lock_guard lock(mu_);
  // Firmware rule: nothing reaches the server's BARs before COMMAND enables their decoding.
  if (bar < 0 || bar >= pci::kNumBars || !config_.bar_decoding(bar) || !usable_locked()) return all_ones(width);
  ++reads_;
  auto v = client_->read(kRegionBar0 + bar, offset, width);
  if (!v) {
    if (client_->connection().broken()) fault_locked("BAR " + std::to_string(bar) + " read: " + v.error().message);
    ++refused_;
    return all_ones(width);
  }
  return *v;
}

void VfioUserDevice::bar_write(int bar, uint64_t offset, unsigned width, uint64_t value) {
  std::lock_guard lock(mu_);
  if (bar < 0 || bar >= pci::kNumBars || !config_.bar_decoding(bar) || !usable_locked()) return;
  ++writes_;
  messages_.bar_written(bar, offset, width, value);
  const bool posted = !(quirks_.write_waits && quirks_.write_waits(bar, offset, width));
  if (!posted) ++waited_writes_;
  if (auto s = client_->write(kRegionBar0 + bar, offset, width, value, posted); !s) {
    if (posted || client_->connection().broken())
      return fault_locked("BAR " + std::to_string(bar) + " write: " + s.error().message);
    ++refused_;  // an awaited write the server refused: the device is as it was
  }
  if (!quirks_.rewrite_after_write) return;
  if (auto rewrite = quirks_.rewrite_after_write(bar, offset, width, value)) rewrite_register_locked(bar, *rewrite);
}

void VfioUserDevice::set_quirks(ModelQuirks quirks) {
  std::lock_guard lock(mu_);
  quirks_ = std::move(quirks);
}

void VfioUserDevice::rewrite_register_locked(int bar, const RegisterRewrite& r) {
  auto v = client_->read(kRegionBar0 + bar, r.offset, r.width);
  if (!v) {
    if (client_->connection().broken()) fault_locked("BAR " + std::to_string(bar) + " read: " + v.error().message);
    return;
  }
  ++quirk_rewrites_;
  if (auto s = client_->write(kRegionBar0 + bar, r.offset, r.width, *v, /*posted=*/true); !s) {
    fault_locked("BAR " + std::to_string(bar) + " write: " + s.error().message);
  }
}

void VfioUserDevice::reset() {
  std::lock_guard lock(mu_);
  reset_config();
  messages_.reset();
  if (faulted_ || client_->connection().broken()) {
    reconnect_locked();
    return;
  }
  // Device registers back to power-on, then COMMAND cleared: no decoding and no DMA until the driver enables again.
  Status s = client_->reset();
  if (s) s = client_->write(kRegionConfig, pci::kCommand, 2, 0, /*posted=*/false);
  if (!s) return fault_locked("reset: " + s.error().message);
  // QEMU's DEVICE_RESET resets the device's registers but not its interrupt line: a line the device raised before
  // (a driver killed before its handler ran) stays high, and since the server signals INTx only on a rising edge,
  // the next driver never gets an interrupt (e1000's first one, at open, starts its link watchdog). The PCI status
  // register shows the line; a server left with it high is replaced by a fresh one.
  auto status = client_->read(kRegionConfig, pci::kStatus, 2);
  if (!status) return fault_locked("reset: " + status.error().message);
  if ((*status & pci::kStatusInterrupt) == 0) return;
  ++stuck_lines_;
  if (reconnect_) {
    reconnect_locked();
  } else {
    logf(LogLevel::kWarning, "side: %s: its interrupt line stays high after a reset", name_.c_str());
  }
}

void VfioUserDevice::reconnect_locked() {
  if (!reconnect_) return;
  auto fresh = reconnect_();
  if (!fresh) {
    logf(LogLevel::kError, "side: %s device server: cannot reconnect: %s", name_.c_str(),
         fresh.error().message.c_str());
    return;  // still faulted: accesses keep reading all-ones
  }
  auto found = discover(**fresh);
  if (!found || found->identity.vendor_id != identity_.vendor_id || found->identity.device_id != identity_.device_id) {
    logf(LogLevel::kError, "side: %s device server: the restarted server is another device", name_.c_str());
    return;
  }
  client_ = std::move(*fresh);
  faulted_ = false;
  ++reconnects_;
  if (auto s = attach_locked(); !s) {
    fault_locked("after reconnecting: " + s.error().message);
    return;
  }
  reconnected();
}

void VfioUserDevice::set_dma_memory(const pci::DmaMemory& memory) {
  std::lock_guard lock(mu_);
  if (dma_mapped_ && usable_locked()) {
    if (auto s = client_->dma_unmap(dma_.bus_base, dma_.size); !s) fault_locked("DMA unmap: " + s.error().message);
  }
  dma_mapped_ = false;
  dma_ = memory;
  if (dma_.fd < 0 || !dma_.size || !usable_locked()) return;
  if (auto s = client_->dma_map(dma_.fd, 0, dma_.bus_base, dma_.size, true); !s) {
    fault_locked("DMA map: " + s.error().message);
    return;
  }
  dma_mapped_ = true;
}

bool VfioUserDevice::server_failed() const {
  std::lock_guard lock(mu_);
  return faulted_ || client_->connection().broken();
}

// Waits on every vector's eventfd; each signal is one interrupt of that vector. While an INTx interrupt is
// delivered and its line not seen low since, the wait is bounded by kLevelRecheck (see recheck_intx).
void VfioUserDevice::irq_loop() {
  std::vector<pollfd> p(vectors_.size() + 1);
  bool watching = false;
  for (;;) {
    p[0] = {stop_.get(), POLLIN, 0};
    for (size_t i = 0; i < vectors_.size(); ++i) p[i + 1] = {vectors_[i].get(), POLLIN, 0};
    const int n =
        poll(p.data(), p.size(), static_cast<int>(watching ? kLevelRecheck.count() : kIdleLevelCheck.count()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents) return;
    if (n == 0) {
      watching = recheck_intx(/*idle=*/!watching);
      continue;
    }
    if (const uint64_t wait = ns_until_interrupt_allowed(); wait > 0) {
      ++throttled_irqs_;
      if (!sleep_unless_stopped(wait)) return;
      continue;
    }
    for (size_t i = 0; i < vectors_.size(); ++i) {
      uint64_t count;
      if (!(p[i + 1].revents & POLLIN) || ::read(vectors_[i].get(), &count, sizeof count) != sizeof count) continue;
      watching = signal_vector(static_cast<uint32_t>(i), watching);
    }
  }
}

void VfioUserDevice::limit_interrupt_rate(double per_second, double burst) {
  std::lock_guard lock(mu_);
  interrupt_rate_ = TokenBucket(per_second, burst);
}

uint64_t VfioUserDevice::ns_until_interrupt_allowed() {
  std::lock_guard lock(mu_);
  const auto now = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
  const uint64_t wait = interrupt_rate_.ns_until_token(now);
  if (wait == 0) (void)interrupt_rate_.take(now);
  return wait;
}

// Sleeps `ns` (at most a second); false if the device is stopping.
bool VfioUserDevice::sleep_unless_stopped(uint64_t ns) {
  ns = std::min<uint64_t>(ns, 1'000'000'000);
  const timespec t{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  pollfd p{stop_.get(), POLLIN, 0};
  return ppoll(&p, 1, &t, nullptr) <= 0 || !(p.revents & POLLIN);
}

// A vector's signal is the message the driver's kernel programmed for it while MSI or MSI-X is on, else (vector 0)
// one rising edge of INTx. INTx is level-triggered, but the server signals rising edges only, so the line is
// checked (Status.Interrupt, PCI 3.0 6.2.3, which the server keeps) each time: an edge whose line has fallen again
// by the time it is read is not delivered (the driver's handler, run for an earlier edge, already cleared the
// cause: QEMU's rtl8139 drops and raises its line on every IntrStatus write), as a CPU sees a level-triggered
// interrupt only while the line is asserted. A signal with no meaning now (a vector the mode has not, one sent just
// before the driver masked it) is counted and dropped. Returns whether an INTx line is to be watched.
bool VfioUserDevice::signal_vector(uint32_t vector, bool watching) {
  std::lock_guard lock(mu_);
  ++irqs_;
  if (auto data = messages_.message(vector)) {
    ++messages_sent_;
    send_message(*data);
    return false;
  }
  if (vector == 0 && messages_.mode() == pci::MessageInterrupts::Mode::kIntx) {
    // A server that cannot tell gets the benefit of the doubt (its fault is reported by the read).
    if (!intx_asserted_locked().value_or(true)) {
      ++stale_irqs_;
      return false;
    }
    return deliver_intx_locked(/*again=*/false);
  }
  ++spurious_;
  return watching;
}

// A line still asserted kLevelRecheck after the last delivery, with no new edge, interrupts again, as a
// level-triggered line does after the handler returns; one found asserted at an idle check (`idle`: no interrupt
// outstanding) was never signalled. Either way no interrupt is lost for good to a missed edge. Only an enabled
// device is asked (its config space answers; a device the driver has not enabled raises nothing).
bool VfioUserDevice::recheck_intx(bool idle) {
  std::lock_guard lock(mu_);
  if (messages_.mode() != pci::MessageInterrupts::Mode::kIntx || !usable_locked()) return false;
  if (!intx_asserted_locked().value_or(false)) return false;
  if (idle) ++edgeless_irqs_;
  return deliver_intx_locked(/*again=*/!idle);
}

bool VfioUserDevice::deliver_intx_locked(bool again) {
  if (again) ++reasserted_irqs_;
  set_irq_request(true);
  set_irq_request(false);
  return true;
}

// The line's level as the server reports it, or nullopt when the server cannot say.
std::optional<bool> VfioUserDevice::intx_asserted_locked() {
  if (!usable_locked()) return std::nullopt;
  auto status = client_->read(kRegionConfig, pci::kStatus, 2);
  if (!status) {
    if (client_->connection().broken()) fault_locked("status read: " + status.error().message);
    return std::nullopt;
  }
  return (*status & pci::kStatusInterrupt) != 0;
}

pci::PciDevice::NamedCounters VfioUserDevice::model_counters() const {
  return {{"server_reads", reads_.load()},
          {"server_writes", writes_.load()},
          {"server_refusals", refused_.load()},
          {"server_interrupts", irqs_.load()},
          {"server_interrupts_stale", stale_irqs_.load()},
          {"server_interrupts_reasserted", reasserted_irqs_.load()},
          {"server_interrupts_without_edge", edgeless_irqs_.load()},
          {"server_faults", faults_.load()},
          {"server_reconnects", reconnects_.load()},
          {"server_messages", messages_sent_.load()},
          {"server_spurious_interrupts", spurious_.load()},
          {"server_stuck_interrupt_lines", stuck_lines_.load()},
          {"server_quirk_rewrites", quirk_rewrites_.load()},
          {"server_waited_writes", waited_writes_.load()},
          {"server_interrupts_throttled", throttled_irqs_.load()}};
}

}  // namespace side::vfio_user
