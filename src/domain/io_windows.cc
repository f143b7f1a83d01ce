#include "domain/io_windows.h"

#include <sys/mman.h>

#include "domain/layout.h"

namespace side::domain {

IoWindows::~IoWindows() {
  if (base_) munmap(reinterpret_cast<void*>(base_), kRegionSize);
}

Status IoWindows::reserve() {
  void* p = mmap(nullptr, kRegionSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return make_error("cannot reserve the device window region");
  base_ = reinterpret_cast<uint64_t>(p);
  next_ = base_;
  return {};
}

Status IoWindows::add_bar(uint32_t device, int bar, uint64_t start, uint64_t size, bool io) {
  if (size == 0 || start + size < start) return make_error("empty or wrapping BAR");
  if (io && start + size > 0x10000) return make_error("I/O BAR beyond the 64 KiB port space");
  std::lock_guard lock(mutex_);
  for (auto& b : bars_) {
    if (b.live.load(std::memory_order_acquire) && b.io == io && start < b.start + b.size && b.start < start + size) {
      return make_error("BAR overlaps another device's BAR");
    }
  }
  for (auto& b : bars_) {
    if (b.live.load(std::memory_order_relaxed)) continue;
    b.device = device;
    b.bar = bar;
    b.start = start;
    b.size = size;
    b.io = io;
    b.live.store(true, std::memory_order_release);
    return {};
  }
  return make_error("too many BARs in one domain");
}

void IoWindows::remove_device(uint32_t device) {
  std::lock_guard lock(mutex_);
  for (auto& w : windows_) {
    if (w.live.load(std::memory_order_relaxed) && w.device == device) w.live.store(false, std::memory_order_release);
  }
  for (auto& b : bars_) {
    if (b.live.load(std::memory_order_relaxed) && b.device == device) b.live.store(false, std::memory_order_release);
  }
}

std::optional<uint64_t> IoWindows::map(uint64_t phys, uint64_t size) {
  if (size == 0 || phys + size < phys || !base_) return std::nullopt;
  std::lock_guard lock(mutex_);
  const Bar* found = nullptr;
  for (const auto& b : bars_) {
    if (b.live.load(std::memory_order_relaxed) && !b.io && phys >= b.start && phys + size <= b.start + b.size) {
      found = &b;
      break;
    }
  }
  if (!found) return std::nullopt;
  // The window keeps the address's offset within its page, as ioremap() does.
  uint64_t page_offset = phys & (kPageSize - 1);
  uint64_t span = (page_offset + size + kPageSize - 1) & ~(kPageSize - 1);
  if (span > base_ + kRegionSize - next_) return std::nullopt;
  for (auto& w : windows_) {
    if (w.live.load(std::memory_order_relaxed) || w.addr != 0) continue;  // slots are never reused either
    w.addr = next_ + page_offset;
    w.size = size;
    w.device = found->device;
    w.bar = found->bar;
    w.bar_offset = phys - found->start;
    next_ += span + kPageSize;  // a guard page between windows
    w.live.store(true, std::memory_order_release);
    return w.addr;
  }
  return std::nullopt;
}

bool IoWindows::unmap(uint64_t addr) {
  std::lock_guard lock(mutex_);
  for (auto& w : windows_) {
    if (w.live.load(std::memory_order_relaxed) && w.addr == addr) {
      w.live.store(false, std::memory_order_release);
      return true;
    }
  }
  return false;
}

std::optional<IoWindows::Target> IoWindows::memory_target(uint64_t addr, unsigned width) const {
  for (const auto& w : windows_) {
    if (!w.live.load(std::memory_order_acquire)) continue;
    if (addr >= w.addr && addr - w.addr < w.size && width <= w.size - (addr - w.addr)) {
      return Target{w.device, w.bar, w.bar_offset + (addr - w.addr)};
    }
  }
  return std::nullopt;
}

std::optional<IoWindows::Target> IoWindows::port_target(uint64_t port, unsigned width) const {
  for (const auto& b : bars_) {
    if (!b.live.load(std::memory_order_acquire) || !b.io) continue;
    if (port >= b.start && port - b.start < b.size && width <= b.size - (port - b.start)) {
      return Target{b.device, b.bar, port - b.start};
    }
  }
  return std::nullopt;
}

}  // namespace side::domain
