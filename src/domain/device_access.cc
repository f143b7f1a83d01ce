#include "domain/device_access.h"

#include <string>

#include "common/strings.h"

namespace side::domain {

Status DeviceAccess::attach(const side_pci_device_info& info) {
  if (!platform()) return make_error("no platform: devices cannot be attached");
  if (attached(info.device)) return make_error("device " + std::to_string(info.device) + " is attached already");
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

std::optional<side_pci_device_info> DeviceAccess::attached(uint32_t device) const {
  std::lock_guard lock(mutex_);
  for (const auto& d : devices_) {
    if (d.device == device) return d;
  }
  return std::nullopt;
}

void* DeviceAccess::ioremap(uint64_t phys, uint64_t size) {
  auto addr = io_.map(phys, size);
  return addr ? reinterpret_cast<void*>(*addr) : nullptr;
}

bool DeviceAccess::iounmap(uint64_t addr) {
  return io_.unmap(addr);
}

std::optional<IoWindows::Target> DeviceAccess::target(uint64_t addr, unsigned width) const {
  return addr < 0x10000 ? io_.port_target(addr, width) : io_.memory_target(addr, width);
}

Result<uint64_t> DeviceAccess::read(uint64_t addr, unsigned width) {
  Platform* p = platform();
  if (!p) return make_error("no platform");
  auto t = target(addr, width);
  if (!t) return make_error("read of " + std::to_string(width) + " bytes at " + hex(addr) + ": no device there");
  return p->bar_read(t->device, t->bar, t->offset, width);
}

Status DeviceAccess::write(uint64_t addr, unsigned width, uint64_t value) {
  Platform* p = platform();
  if (!p) return make_error("no platform");
  auto t = target(addr, width);
  if (!t) return make_error("write of " + std::to_string(width) + " bytes at " + hex(addr) + ": no device there");
  return p->bar_write(t->device, t->bar, t->offset, width, value);
}

void DeviceAccess::receive(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) const {
  deliver_rx(receiver_.load(), platform(), token, frame, csum);
}

}  // namespace side::domain
