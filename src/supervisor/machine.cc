#include "supervisor/machine.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"
#include "domain/layout.h"
#include "ipc/channel.h"

namespace side::supervisor {
namespace {

// Addresses as a PC firmware would assign them (QEMU's i440FX places the first NIC's BARs the same way).
constexpr uint64_t kMmioWindowBase = 0xfebc0000;
constexpr uint64_t kMmioStride = 0x40000;
constexpr uint64_t kIoWindowBase = 0xc000;
constexpr uint64_t kIoStride = 0x100;
constexpr uint32_t kFirstIrq = 11;
constexpr uint32_t kFirstSlot = 3;

bool valid_width(unsigned width) {
  return width == 1 || width == 2 || width == 4 || width == 8;
}

}  // namespace

Machine::Machine(DriverDomain& domain) : domain_(domain) {
  slots_.reserve(kMaxDevices);
  timer_thread_ = std::thread([this] { timer_loop(); });
}

Machine::~Machine() {
  {
    std::lock_guard lock(timer_mutex_);
    timer_stop_ = true;
  }
  timer_cv_.notify_all();
  timer_thread_.join();
}

Result<uint32_t> Machine::add_device(const devices::DeviceModel& model, const devices::DeviceOptions& options) {
  if (slots_.size() >= kMaxDevices) return make_error("no free PCI slot");
  auto s = std::make_unique<Slot>();
  const uint32_t dev = static_cast<uint32_t>(slots_.size());
  s->iommu = std::make_unique<iommu::Iommu>(domain_.arena_base(), domain_.arena_size());
  s->dma = std::make_unique<DmaPermissions>(*s->iommu, domain::kArenaPhysBase, domain_.arena_size());
  pci::DeviceContext context{*s->iommu, monotonic_ns, [this](uint64_t deadline) { arm_timer(deadline); }};
  context.dma_memory = {domain_.arena_fd(), domain::kArenaPhysBase, domain_.arena_size()};
  // A device server that died or broke the protocol: the device no longer answers, as a hung one does; the domain
  // is stopped and its recovery resets the device (which reconnects to a fresh server).
  context.device_fault = [this, dev](const std::string& why) {
    domain_.report_fault(SIDE_FAULT_HUNG, "device " + std::to_string(dev) + ": " + why);
  };
  s->device = model.make(context, options);
  if (!s->device) return make_error("the " + model.name + " model could not be built");
  // A DMA the IOMMU refuses was programmed by the driver: it is the driver's fault.
  s->iommu->set_fault_hook([this, dev](const iommu::Fault& f) {
    char message[200];
    std::snprintf(message, sizeof message, "device %u: DMA %s of %llu bytes at %#llx refused: page %#llx %s", dev,
                  iommu::to_string(f.direction), static_cast<unsigned long long>(f.length),
                  static_cast<unsigned long long>(f.iova), static_cast<unsigned long long>(f.fault_page),
                  iommu::to_string(f.reason));
    domain_.report_fault(SIDE_FAULT_IOMMU, message);
  });
  const uint32_t irq = kFirstIrq + dev;
  s->irq = std::make_unique<IrqLine>(domain_, irq);
  s->device->set_interrupt_sink(s->irq.get());
  s->info.device = dev;
  s->info.bus = 0;
  s->info.devfn = (kFirstSlot + dev) << 3;
  s->info.irq = irq;
  assign_resources(*s);
  slots_.push_back(std::move(s));
  if (auto st = domain_.attach_device(slots_.back()->info); !st) {
    slots_.pop_back();
    return st.error();
  }
  publish_to_timer();
  declare_shadows(dev);
  return dev;
}

void Machine::declare_shadows(uint32_t dev) {
  pci::PciDevice& d = *slots_[dev]->device;
  const auto spec = d.register_shadows();
  {
    std::lock_guard lock(shadow_mu_);
    auto entry = [&](int bar, uint32_t offset) -> Shadow& {
      for (Shadow& s : shadows_) {
        if (s.dev == dev && s.bar == bar && s.offset == offset) return s;
      }
      return shadows_.emplace_back(Shadow{dev, bar, offset, false, false, false});
    };
    for (const auto& [bar, offset] : spec.shadowed) entry(bar, offset).copy = true;
    for (const auto& [bar, offset] : spec.inert_writes) entry(bar, offset).inert = true;
    // Private only if also a copy that nothing else changes: what a model declares beyond that is ignored.
    for (const auto& [bar, offset] : spec.private_writes) {
      Shadow& s = entry(bar, offset);
      s.private_writes = s.copy && s.inert;
    }
  }
  if (!spec.shadowed.empty()) d.set_registers_changed([this, dev] { refresh_shadows(dev); });
  publish_shadows();
}

void Machine::publish_shadows() {
  refresh_shadows(~0u);
}

// Each copy's value is what a read of it through the bus returns now (all ones while its BAR does not decode).
void Machine::publish_shadow_locked(size_t i) {
  const Shadow& s = shadows_[i];
  const uint32_t key = ipc::shadow_key(s.dev, s.bar, s.offset);
  if (!key) return;
  uint32_t value = 0;
  if (s.copy) {
    auto v = bar_read(s.dev, s.bar, s.offset, 4);
    if (!v) return;
    value = static_cast<uint32_t>(*v);
  }
  const uint32_t kinds = (s.copy ? ipc::kShadowCopy : 0) | (s.inert ? ipc::kShadowInert : 0) |
                         (s.private_writes ? ipc::kShadowPrivate : 0);
  domain_.set_register_shadow(static_cast<unsigned>(i), key | kinds, value);
}

void Machine::refresh_shadows(uint32_t dev) {
  std::lock_guard lock(shadow_mu_);
  for (size_t i = 0; i < shadows_.size() && i < ipc::kRegisterShadows; ++i) {
    if (dev == ~0u || shadows_[i].dev == dev) publish_shadow_locked(i);
  }
}

void Machine::refresh_after_write(uint32_t dev, int bar, uint64_t offset) {
  std::lock_guard lock(shadow_mu_);
  size_t n = std::min<size_t>(shadows_.size(), ipc::kRegisterShadows), own = n;
  for (size_t i = 0; i < n; ++i) {
    const Shadow& s = shadows_[i];
    if (s.dev == dev && s.bar == bar && s.offset == offset && s.inert) own = i;
  }
  for (size_t i = 0; i < n; ++i) {
    if (shadows_[i].dev == dev && shadows_[i].copy && (own == n || i == own)) publish_shadow_locked(i);
  }
}

// Firmware: programs the BARs and the interrupt line register, and records the ids the domain is told.
void Machine::assign_resources(Slot& s) {
  pci::PciDevice& d = *s.device;
  side_pci_device_info& info = s.info;
  const uint32_t dev = info.device;
  uint64_t mmio = kMmioWindowBase + dev * kMmioStride, io = kIoWindowBase + dev * kIoStride;
  for (int bar = 0; bar < pci::kNumBars; ++bar) {
    const pci::BarSpec& spec = d.config().bar_spec(bar);
    if (spec.kind == pci::BarKind::kNone) continue;
    bool is_io = spec.kind == pci::BarKind::kIo;
    uint64_t& next = is_io ? io : mmio;
    next = (next + spec.size - 1) & ~uint64_t{spec.size - 1};
    d.config_write(pci::kBar0 + 4 * bar, 4, static_cast<uint32_t>(next));
    info.bars[bar] = side_pci_bar{next, spec.size, is_io ? 1u : 0u, 0};
    next += spec.size;
  }
  d.config_write(pci::kInterruptLine, 1, info.irq);
  info.vendor_id = d.config_read(pci::kVendorId, 2);
  info.device_id = d.config_read(pci::kDeviceId, 2);
  info.revision = d.config_read(pci::kRevisionId, 1);
  info.class_code = d.config_read(pci::kRevisionId, 4) >> 8;
  info.subsystem_vendor = d.config_read(pci::kSubsystemVendorId, 2);
  info.subsystem_device = d.config_read(pci::kSubsystemId, 2);
}

uint64_t Machine::nic_tx_packets() const {
  uint64_t packets = 0;
  for (const auto& s : slots_) {
    if (net::Nic* n = s->device->nic()) packets += n->nic_counters().tx_packets;
  }
  return packets;
}

Machine::Slot* Machine::slot(uint32_t dev) {
  return dev < slots_.size() ? slots_[dev].get() : nullptr;
}

void Machine::quiesce() {
  for (auto& s : slots_) {
    s->device->reset();
    s->dma->clear();
  }
}

void Machine::hold_received_frames(bool hold) {
  for (auto& s : slots_) {
    if (net::Nic* n = s->device->nic()) n->hold_received_frames(hold);
  }
}

void Machine::rebind(uint8_t* arena_base, uint64_t arena_size, int arena_fd) {
  for (auto& s : slots_) {
    s->dma->retarget(arena_base, arena_size);
    s->device->set_dma_memory({arena_fd, domain::kArenaPhysBase, arena_size});
    // Firmware again: the reset cleared the BARs, the interrupt line and the command register.
    for (int bar = 0; bar < 6; ++bar) {
      if (s->info.bars[bar].size)
        s->device->config_write(pci::kBar0 + 4 * bar, 4, static_cast<uint32_t>(s->info.bars[bar].start));
    }
    s->device->config_write(pci::kInterruptLine, 1, s->info.irq);
  }
}

// ---- PCI ----------------------------------------------------------------------------------------------------

Result<uint32_t> Machine::config_read(uint32_t dev, uint32_t offset, unsigned width) {
  Slot* s = slot(dev);
  if (!s) return make_error("no such device");
  if ((width != 1 && width != 2 && width != 4) || offset >= 256 || offset + width > 256 || offset % width) {
    return make_error("bad config access");
  }
  return s->device->config_read(offset, width);
}

Status Machine::config_write(uint32_t dev, uint32_t offset, unsigned width, uint32_t value) {
  Slot* s = slot(dev);
  if (!s) return make_error("no such device");
  if ((width != 1 && width != 2 && width != 4) || offset >= 256 || offset + width > 256 || offset % width) {
    return make_error("bad config access");
  }
  s->device->config_write(offset, width, value);
  refresh_shadows(dev);  // (a BAR's decoding may have changed)
  return {};
}

bool Machine::bar_ok(const Slot& s, int bar, uint64_t offset, unsigned width) const {
  if (bar < 0 || bar >= 6 || !valid_width(width)) return false;
  const side_pci_bar& b = s.info.bars[bar];
  return b.size != 0 && offset < b.size && width <= b.size - offset;
}

Result<uint64_t> Machine::bar_read(uint32_t dev, int bar, uint64_t offset, unsigned width) {
  Slot* s = slot(dev);
  if (!s || !bar_ok(*s, bar, offset, width)) return make_error("access outside the device's BARs");
  // A BAR whose decoding is off does not respond: the read completes with all ones, as a master abort does.
  if (!s->device->config().bar_decoding(bar)) return width == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * width)) - 1;
  return s->device->bar_read(bar, offset, width);
}

Status Machine::bar_write(uint32_t dev, int bar, uint64_t offset, unsigned width, uint64_t value) {
  Slot* s = slot(dev);
  if (!s || !bar_ok(*s, bar, offset, width)) return make_error("access outside the device's BARs");
  if (!s->device->config().bar_decoding(bar)) return {};
  s->device->bar_write(bar, offset, width, value);
  // The copies the write may have changed are fresh before the domain is told it was carried out.
  refresh_after_write(dev, bar, offset);
  return {};
}

int Machine::dma_map(uint32_t dev, uint64_t phys, uint64_t size, int dir) {
  Slot* s = slot(dev);
  return s ? s->dma->map(phys, size, dir) : -ENODEV;
}

int Machine::dma_unmap(uint32_t dev, uint64_t phys, uint64_t size, int dir) {
  Slot* s = slot(dev);
  return s ? s->dma->unmap(phys, size, dir) : -ENODEV;
}

// ---- network devices ----------------------------------------------------------------------------------------

int Machine::netdev_register(const side_netdev_info& info) {
  {
    std::lock_guard lock(net_mutex_);
    for (const auto& n : netdevs_) {
      if (n.registered && (n.info.token == info.token || std::strcmp(n.info.name, info.name) == 0)) return -EEXIST;
    }
    if (netdevs_.size() >= 64) return -ENOSPC;
    netdevs_.push_back(NetdevState{info, true, false});
  }
  net_changed_.notify_all();
  if (NetListener* l = listener_.load()) l->netdev_registered(info);
  return 0;
}

void Machine::netdev_unregister(uint64_t token) {
  {
    std::lock_guard lock(net_mutex_);
    std::erase_if(netdevs_, [&](const NetdevState& n) { return n.info.token == token; });
  }
  net_changed_.notify_all();
  if (NetListener* l = listener_.load()) l->netdev_unregistered(token);
}

void Machine::netdev_carrier(uint64_t token, bool on) {
  {
    std::lock_guard lock(net_mutex_);
    for (auto& n : netdevs_) {
      if (n.info.token == token) n.carrier = on;
    }
  }
  net_changed_.notify_all();
  if (NetListener* l = listener_.load()) l->carrier(token, on);
}

void Machine::netdev_changed(const side_netdev_info& info) {
  bool known = false;
  {
    std::lock_guard lock(net_mutex_);
    for (auto& n : netdevs_) {
      if (n.info.token == info.token) {
        // The name and parent are the registration's; only the address and MTU change.
        std::memcpy(n.info.mac, info.mac, sizeof n.info.mac);
        n.info.mtu = info.mtu;
        known = true;
      }
    }
  }
  net_changed_.notify_all();
  if (NetListener* l = listener_.load(); l && known) l->netdev_changed(info);
}

void Machine::netdev_tx_wake(uint64_t token, uint32_t /*queue*/) {
  if (NetListener* l = listener_.load()) l->tx_wake(token);
}

void Machine::netdev_rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) {
  if (NetListener* l = listener_.load()) l->rx(token, frame, csum);
}

std::vector<NetdevState> Machine::netdevs() const {
  std::lock_guard lock(net_mutex_);
  return netdevs_;
}

std::optional<NetdevState> Machine::netdev_of_device(uint32_t device) const {
  std::lock_guard lock(net_mutex_);
  for (const auto& n : netdevs_) {
    if (n.info.device == device) return n;
  }
  return std::nullopt;
}

bool Machine::wait_for_carrier(uint32_t device, unsigned timeout_ms) {
  std::unique_lock lock(net_mutex_);
  return net_changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    for (const auto& n : netdevs_) {
      if (n.info.device == device && n.carrier) return true;
    }
    return domain_.faulty();
  }) && !domain_.faulty();
}

// ---- device timers ------------------------------------------------------------------------------------------

void Machine::arm_timer(uint64_t deadline_ns) {
  // Runs with the device's lock held: only record the deadline and wake the timer thread.
  {
    std::lock_guard lock(timer_mutex_);
    if (timer_deadline_ && *timer_deadline_ <= deadline_ns) return;
    timer_deadline_ = deadline_ns;
  }
  timer_cv_.notify_one();
}

void Machine::publish_to_timer() {
  // A model may arm its timer while it is built, before the timer thread can see it: that deadline may already
  // have fired over the devices published so far. One pass over all of them now services it (a pass a device has
  // no work for is harmless: every pass services every device).
  {
    std::lock_guard lock(timer_mutex_);
    timer_devices_ = slots_.size();
  }
  arm_timer(monotonic_ns());
}

void Machine::timer_loop() {
  std::unique_lock lock(timer_mutex_);
  constexpr auto kLevelCheck = std::chrono::milliseconds(20);
  auto next_level_check = std::chrono::steady_clock::now() + kLevelCheck;
  while (!timer_stop_) {
    if (std::chrono::steady_clock::now() >= next_level_check) {
      next_level_check = std::chrono::steady_clock::now() + kLevelCheck;
      const size_t devices = timer_devices_;
      lock.unlock();
      for (size_t i = 0; i < devices; ++i) slots_[i]->irq->reassert_if_stuck(20'000'000);
      lock.lock();
      continue;
    }
    if (!timer_deadline_) {
      timer_cv_.wait_until(lock, next_level_check);
      continue;
    }
    uint64_t now = monotonic_ns();
    if (now < *timer_deadline_) {
      timer_cv_.wait_until(lock, std::min(next_level_check, std::chrono::steady_clock::now() +
                                                                std::chrono::nanoseconds(*timer_deadline_ - now)));
      continue;
    }
    timer_deadline_.reset();
    const size_t devices = timer_devices_;
    lock.unlock();
    std::optional<uint64_t> next;
    for (size_t i = 0; i < devices; ++i) {
      slots_[i]->device->service_timers();
      // A device may have moved its deadline later since it armed this one (arm_timer keeps only the earliest):
      // what is still pending is armed again, or a held interrupt would wait for the driver's next register access.
      if (auto d = slots_[i]->device->next_deadline_ns(); d && (!next || *d < *next)) next = d;
    }
    lock.lock();
    if (next && (!timer_deadline_ || *next < *timer_deadline_)) timer_deadline_ = next;
  }
}

}  // namespace side::supervisor
