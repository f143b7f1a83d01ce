// The device-facing half of a domain: attaching PCI functions, trapped device accesses, probe/remove,
// open/close, interrupts and the transmit queue. Driver code always runs on a virtual CPU in a guarded call.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "common/strings.h"
#include "domain/domain.h"
#include "domain/domain_bus.h"
#include "emulation/ucontext.h"

namespace side::domain {
Status Domain::require_vcpu0(const char* what) const {
  if (!Domain::on_vcpu(0)) return make_error(std::string(what) + " must run on the domain's control thread");
  if (faulty_.load()) return make_error("the domain is faulty: no more driver code runs in it");
  return {};
}

Status Domain::attach_device(const side_pci_device_info& info) {
  if (!platform()) return make_error("no platform: devices cannot be attached");
  {
    std::lock_guard lock(mutex_);
    for (const auto& d : devices_) {
      if (d.device == info.device) return make_error("device " + std::to_string(info.device) + " is attached already");
    }
  }
  for (int bar = 0; bar < 6; ++bar) {
    const side_pci_bar& b = info.bars[bar];
    if (b.size == 0) continue;
    if (auto s = io_.add_bar(info.device, bar, b.start, b.size, b.io != 0); !s) {
      io_.remove_device(info.device);
      return make_error("BAR " + std::to_string(bar) + ": " + s.error().message);
    }
  }
  std::lock_guard lock(mutex_);
  devices_.push_back(info);
  return {};
}

Result<uint64_t> Domain::probe(uint32_t device) {
  SIDE_TRY(require_vcpu0("probe"));
  if (!entries_.pci_probe) return make_error("the kernel-API layer cannot probe PCI devices");
  std::optional<side_pci_device_info> info;
  {
    std::lock_guard lock(mutex_);
    for (const auto& d : devices_) {
      if (d.device == device) info = d;
    }
  }
  if (!info) return make_error("device " + std::to_string(device) + " is not attached");
  auto driver = match_pci_driver(static_cast<uint16_t>(info->vendor_id), static_cast<uint16_t>(info->device_id),
                                 static_cast<uint16_t>(info->subsystem_vendor),
                                 static_cast<uint16_t>(info->subsystem_device), info->class_code);
  if (!driver)
    return make_error("no registered driver claims device " + hex(info->vendor_id) + ":" + hex(info->device_id));
  void* pdev = nullptr;
  int rc = 0;
  if (!call([&] { rc = entries_.pci_probe(reinterpret_cast<void*>(driver->driver), &*info, &pdev); })) {
    return make_error(driver->name + ": driver fault in probe: " + (faults().empty() ? "" : faults().back().message));
  }
  if (rc != 0) return make_error(driver->name + ": probe failed with error " + std::to_string(rc));
  return reinterpret_cast<uint64_t>(pdev);
}

Status Domain::remove(uint64_t pdev) {
  SIDE_TRY(require_vcpu0("remove"));
  if (!entries_.pci_remove) return make_error("the kernel-API layer cannot remove PCI devices");
  if (!call([&] { entries_.pci_remove(reinterpret_cast<void*>(pdev)); })) return make_error("driver fault in remove");
  return {};
}

Status Domain::open(uint64_t netdev) {
  SIDE_TRY(require_vcpu0("open"));
  if (!entries_.netdev_open) return make_error("the kernel-API layer cannot open network devices");
  int rc = 0;
  if (!call([&] { rc = entries_.netdev_open(netdev); })) {
    return make_error("driver fault in open: " + (faults().empty() ? std::string() : faults().back().message));
  }
  if (rc != 0) return make_error("open failed with error " + std::to_string(rc));
  return {};
}

Status Domain::close(uint64_t netdev) {
  SIDE_TRY(require_vcpu0("close"));
  if (!entries_.netdev_close) return make_error("the kernel-API layer cannot close network devices");
  if (!call([&] { entries_.netdev_close(netdev); })) return make_error("driver fault in close");
  return {};
}

Result<side_netdev_stats> Domain::stats(uint64_t netdev) {
  SIDE_TRY(require_vcpu0("stats"));
  if (!entries_.netdev_stats) return make_error("the kernel-API layer cannot read statistics");
  side_netdev_stats out{};
  if (!call([&] { entries_.netdev_stats(netdev, &out); })) return make_error("driver fault reading statistics");
  return out;
}

namespace {

Status errno_status(const char* what, int rc) {
  if (rc == 0) return {};
  return make_error(std::string(what) + " failed: " + std::strerror(-rc) + " (" + std::to_string(rc) + ")");
}

}  // namespace

Status Domain::set_mtu(uint64_t netdev, uint32_t mtu) {
  SIDE_TRY(require_vcpu0("set_mtu"));
  if (!entries_.set_mtu) return make_error("the kernel-API layer cannot change the MTU");
  int rc = 0;
  if (!call([&] { rc = entries_.set_mtu(netdev, mtu); })) return make_error("driver fault changing the MTU");
  return errno_status("changing the MTU", rc);
}

Status Domain::set_mac(uint64_t netdev, const std::array<uint8_t, 6>& mac) {
  SIDE_TRY(require_vcpu0("set_mac"));
  if (!entries_.set_mac) return make_error("the kernel-API layer cannot change the MAC address");
  int rc = 0;
  if (!call([&] { rc = entries_.set_mac(netdev, mac.data()); })) return make_error("driver fault setting the MAC");
  return errno_status("setting the MAC address", rc);
}

Status Domain::set_rx_mode(uint64_t netdev, uint32_t flags, const std::vector<std::array<uint8_t, 6>>& multicast) {
  SIDE_TRY(require_vcpu0("set_rx_mode"));
  if (!entries_.set_rx_mode) return make_error("the kernel-API layer cannot change the receive mode");
  std::vector<uint8_t> list;
  for (const auto& a : multicast) list.insert(list.end(), a.begin(), a.end());
  int rc = 0;
  if (!call([&] { rc = entries_.set_rx_mode(netdev, flags, list.data(), static_cast<uint32_t>(multicast.size())); })) {
    return make_error("driver fault changing the receive mode");
  }
  return errno_status("changing the receive mode", rc);
}

Result<side_ethtool_info> Domain::ethtool(uint64_t netdev) {
  SIDE_TRY(require_vcpu0("ethtool"));
  if (!entries_.ethtool) return make_error("the kernel-API layer cannot query ethtool information");
  side_ethtool_info out{};
  int rc = 0;
  if (!call([&] { rc = entries_.ethtool(netdev, &out); })) return make_error("driver fault in an ethtool operation");
  if (rc != 0) return errno_status("ethtool", rc).error();
  return out;
}

void Domain::raise_irq(uint32_t irq) {
  if (irq >= 64) return;
  irq_pending_.fetch_or(uint64_t{1} << irq);
  softirq_bell_.ring(kEventIrq);
}

void Domain::irq_attach(uint32_t irq, bool attached) {
  if (irq >= 64) return;
  if (attached)
    irq_attached_.fetch_or(uint64_t{1} << irq);
  else
    irq_attached_.fetch_and(~(uint64_t{1} << irq));
}

bool Domain::submit_tx(uint64_t netdev, std::span<const uint8_t> frame) {
  if (!tx_->submit(netdev, frame)) return false;
  softirq_bell_.ring(kEventTx);
  return true;
}

void Domain::tx_wake(uint64_t netdev, uint32_t queue) {
  tx_blocked_ = false;
  softirq_bell_.ring(kEventTx);
  if (Platform* p = platform()) p->netdev_tx_wake(netdev, queue);
}

// ---- device accesses ---------------------------------------------------------------------------------------

void* Domain::ioremap(uint64_t phys, uint64_t size) {
  auto addr = io_.map(phys, size);
  return addr ? reinterpret_cast<void*>(*addr) : nullptr;
}

bool Domain::iounmap(uint64_t addr) {
  return io_.unmap(addr);
}

Result<uint64_t> Domain::io_read(uint64_t addr, unsigned width) {
  Platform* p = platform();
  if (!p) return make_error("no platform");
  auto t = addr < 0x10000 ? io_.port_target(addr, width) : io_.memory_target(addr, width);
  if (!t) return make_error("read of " + std::to_string(width) + " bytes at " + hex(addr) + ": no device there");
  return p->bar_read(t->device, t->bar, t->offset, width);
}

Status Domain::io_write(uint64_t addr, unsigned width, uint64_t value) {
  Platform* p = platform();
  if (!p) return make_error("no platform");
  auto t = addr < 0x10000 ? io_.port_target(addr, width) : io_.memory_target(addr, width);
  if (!t) return make_error("write of " + std::to_string(width) + " bytes at " + hex(addr) + ": no device there");
  return p->bar_write(t->device, t->bar, t->offset, width, value);
}

// Runs in the signal handler of a SIGSEGV raised by driver code: either an access inside a device window, or a
// general-protection fault that may be port I/O. kNotOurs means "not a device access": classify() goes on.
SignalAction Domain::emulate_device_access(siginfo_t* info, ucontext_t* context, const loader::LoadedModule& mod) {
  // A site being rewritten: its bytes may be changing under us, so the patcher's decoding is the one to use.
  if (auto a = patcher_.on_known_site(context)) {
    if (*a == SignalAction::kResume) patcher_.after_trap(context);
    return *a;
  }
  const uint64_t rip = static_cast<uint64_t>(context->uc_mcontext.gregs[REG_RIP]);
  const bool in_trampoline = patcher_.in_pool(rip);
  uint64_t end = in_trampoline ? patcher_.pool_end() : rip;
  for (auto [start, stop] : mod.text) {
    if (rip >= start && rip < stop) end = stop;
  }
  size_t len = std::min<uint64_t>(end - rip, emulation::kMaxInstructionLength);
  std::span<const uint8_t> code(reinterpret_cast<const uint8_t*>(rip), len);
  int cpu = current_vcpu();
  if (cpu < 0 || static_cast<size_t>(cpu) >= decode_caches_.size()) return SignalAction::kNotOurs;
  DomainBus bus(*this);
  auto r = emulation::emulate_trap(*info, *context, code, *decode_caches_[cpu], bus);
  if (r) {
    patcher_.count_trap(in_trampoline);
    if (!in_trampoline) patcher_.on_emulated(mod, *r, context);
    patcher_.after_trap(context);
    return SignalAction::kResume;
  }
  // Another vCPU may have put an int3 over the instruction while this one was decoding it.
  if (auto a = patcher_.on_known_site(context)) {
    if (*a == SignalAction::kResume) patcher_.after_trap(context);
    return *a;
  }
  const auto addr = reinterpret_cast<uint64_t>(info->si_addr);
  if (info->si_code == SI_KERNEL && !io_.in_region(addr)) return SignalAction::kNotOurs;
  char message[256];
  std::snprintf(message, sizeof message, "device access at %s failed: %s", hex(addr).c_str(),
                r.error().message.c_str());
  record_fault(SIDE_FAULT_MEMORY, message, patcher_.origin(rip));
  return SignalAction::kAbandon;
}

}  // namespace side::domain
