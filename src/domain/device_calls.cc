// The device-facing calls of a domain: probe/remove, the control operations that are one kernel-API call,
// interrupts and transmission.
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

namespace {

Status errno_status(const char* what, int rc) {
  if (rc == 0) return {};
  return make_error(std::string(what) + ": " + std::strerror(-rc) + " (" + std::to_string(rc) + ")");
}

}  // namespace

Status Domain::run_entry(const char* what, const std::string& entry, const std::function<int(uint64_t)>& body) {
  SIDE_TRY(require_vcpu0(what));
  const uint64_t address = entries_.find(entry);
  if (address == 0) return make_error(std::string(what) + ": the kernel-API layer has no " + entry);
  int rc = 0;
  if (!call([&] { rc = body(address); })) {
    return make_error(std::string("driver fault in ") + what + ": " + faults_.last_message());
  }
  return errno_status(what, rc);
}

void Domain::raise_irq(uint32_t irq) {
  if (irqs_.raise(irq)) vcpus_.kick_softirq(VcpuThreads::kEventIrq);
}

bool Domain::submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload) {
  if (!tx_.push(netdev, frame, offload)) return false;
  vcpus_.kick_softirq(VcpuThreads::kEventTx);
  return true;
}

void Domain::tx_wake(uint64_t netdev, uint32_t queue) {
  tx_.wake();
  vcpus_.kick_softirq(VcpuThreads::kEventTx);
  if (Platform* p = platform()) p->netdev_tx_wake(netdev, queue);
}

}  // namespace side::domain
