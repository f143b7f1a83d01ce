// Device memory as a driver domain sees it. ioremap() of a BAR returns an address inside a region that is never
// accessible, so every readl/writel the driver performs traps; the domain decodes the instruction and carries the
// access out on the device (see Domain::classify). Port I/O needs no window: ring 3 may not execute in/out, so
// those trap too, and the port number names the BAR.
//
// Lookups run in signal handlers, concurrently with ioremap/iounmap on other virtual CPUs: the tables are fixed
// arrays whose entries are published with a release store of their `live` flag and never move. Window addresses
// are never reused, so an access through an unmapped window can never reach another device.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>

#include "common/result.h"

namespace side::domain {

class IoWindows {
 public:
  static constexpr uint64_t kRegionSize = 1ull << 30;  // address space for all windows of a domain's lifetime
  static constexpr size_t kMaxBars = 32;
  static constexpr size_t kMaxWindows = 256;

  struct Target {
    uint32_t device = 0;
    int bar = 0;
    uint64_t offset = 0;  // from the BAR's start
  };

  IoWindows() = default;
  ~IoWindows();
  IoWindows(const IoWindows&) = delete;
  IoWindows& operator=(const IoWindows&) = delete;

  Status reserve();
  // Makes BAR `bar` of `device` reachable: [start, start + size) in bus-address space, or in port space for I/O.
  Status add_bar(uint32_t device, int bar, uint64_t start, uint64_t size, bool io);
  // Forgets every BAR and window of `device` (it was removed).
  void remove_device(uint32_t device);

  // ioremap(phys, size): a window onto the memory BAR that contains the whole range. nullopt if none does.
  std::optional<uint64_t> map(uint64_t phys, uint64_t size);
  // iounmap(): false if `addr` is not the start of a live window.
  bool unmap(uint64_t addr);

  // True if `addr` lies in the window region at all (live window or not).
  bool in_region(uint64_t addr) const { return base_ && addr >= base_ && addr < base_ + kRegionSize; }
  uint64_t region_base() const { return base_; }
  // The device register behind [addr, addr + width) of a live window, or behind port range [port, port + width).
  std::optional<Target> memory_target(uint64_t addr, unsigned width) const;
  std::optional<Target> port_target(uint64_t port, unsigned width) const;

 private:
  struct Bar {
    std::atomic<bool> live{false};
    uint32_t device = 0;
    int bar = 0;
    uint64_t start = 0, size = 0;
    bool io = false;
  };
  struct Window {
    std::atomic<bool> live{false};
    uint64_t addr = 0, size = 0;
    uint32_t device = 0;
    int bar = 0;
    uint64_t bar_offset = 0;
  };

  uint64_t base_ = 0;
  uint64_t next_ = 0;  // bump allocator within the region
  std::mutex mutex_;   // writers only
  std::array<Bar, kMaxBars> bars_;
  std::array<Window, kMaxWindows> windows_;
};

}  // namespace side::domain
