// The device-facing calls of a domain: probe/remove, open/close, configuration, interrupts and transmission.
// Driver code always runs on a virtual CPU in a guarded call.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "common/strings.h"
#include "domain/domain.h"

namespace side::domain {
Status Domain::require_vcpu0(const char* what) const {
  if (!Domain::on_vcpu(0)) return make_error(std::string(what) + " must run on the domain's control thread");
  if (faulty()) return make_error("the domain is faulty: no more driver code runs in it");
  return {};
}

Result<uint64_t> Domain::probe(uint32_t device) {
  SIDE_TRY(require_vcpu0("probe"));
  if (!entries_.pci_probe) return make_error("the kernel-API layer cannot probe PCI devices");
  const std::optional<side_pci_device_info> info = devices_.attached(device);
  if (!info) return make_error("device " + std::to_string(device) + " is not attached");
  auto driver = match_pci_driver(static_cast<uint16_t>(info->vendor_id), static_cast<uint16_t>(info->device_id),
                                 static_cast<uint16_t>(info->subsystem_vendor),
                                 static_cast<uint16_t>(info->subsystem_device), info->class_code);
  if (!driver)
    return make_error("no registered driver claims device " + hex(info->vendor_id) + ":" + hex(info->device_id));
  void* pdev = nullptr;
  int rc = 0;
  if (!call([&] { rc = entries_.pci_probe(reinterpret_cast<void*>(driver->driver), &*info, &pdev); })) {
    return make_error(driver->name + ": driver fault in probe: " + faults_.last_message());
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
    return make_error("driver fault in open: " + faults_.last_message());
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
  if (irqs_.raise(irq)) vcpus_.kick_softirq(VcpuThreads::kEventIrq);
}

bool Domain::submit_tx(uint64_t netdev, std::span<const uint8_t> frame) {
  if (!tx_.push(netdev, frame)) return false;
  vcpus_.kick_softirq(VcpuThreads::kEventTx);
  return true;
}

void Domain::tx_wake(uint64_t netdev, uint32_t queue) {
  tx_.wake();
  vcpus_.kick_softirq(VcpuThreads::kEventTx);
  if (Platform* p = platform()) p->netdev_tx_wake(netdev, queue);
}

}  // namespace side::domain
