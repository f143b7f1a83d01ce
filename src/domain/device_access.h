// Where a domain's device accesses go: the PCI functions attached to it, the windows its drivers ioremap()ed their
// BARs into, and the Platform that carries an access out on the device. Addresses below 64 KiB are I/O ports.
// Received frames go out here too: to the host side's FrameReceiver when one is set, else to the Platform.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "domain/io_windows.h"
#include "domain/platform.h"
#include "kapi/side_host.h"

namespace side::domain {

class DeviceAccess {
 public:
  Status reserve() { return io_.reserve(); }
  // Where accesses and network events go. Set before attaching devices; must outlive the domain's use.
  void set_platform(Platform* platform) { platform_.store(platform); }
  Platform* platform() const { return platform_.load(); }
  // Where received frames go straight from the data path, skipping the platform; null: through the platform. Any
  // time, any thread.
  void set_frame_receiver(FrameReceiver* receiver) { receiver_.store(receiver); }
  // A frame a driver received (any thread): to the frame receiver, or else the platform.
  void receive(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) const;

  // Makes a PCI function reachable (its BARs through ioremap and port I/O).
  Status attach(const side_pci_device_info& info);
  std::optional<side_pci_device_info> attached(uint32_t device) const;

  void* ioremap(uint64_t phys, uint64_t size);
  bool iounmap(uint64_t addr);
  Result<uint64_t> read(uint64_t addr, unsigned width);
  Status write(uint64_t addr, unsigned width, uint64_t value);
  // Whether `addr` is in the region device windows are mapped into (a fault there may be a device access).
  bool in_window_region(uint64_t addr) const { return io_.in_region(addr); }
  uint64_t window_region_base() const { return io_.region_base(); }
  static constexpr uint64_t kWindowRegionSize = IoWindows::kRegionSize;

 private:
  std::optional<IoWindows::Target> target(uint64_t addr, unsigned width) const;

  std::atomic<Platform*> platform_{nullptr};
  std::atomic<FrameReceiver*> receiver_{nullptr};
  IoWindows io_;
  mutable std::mutex mutex_;
  std::vector<side_pci_device_info> devices_;
};

}  // namespace side::domain
