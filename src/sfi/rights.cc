#include "sfi/rights.h"

#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include "sfi/layout.h"

namespace side::sfi {
namespace {

constexpr uint64_t kBitmapBytes = kWindowSize / kGranule / 8;

// Granules [first, end) of a byte range clipped to the window; empty when it lies outside.
bool granules(uint64_t addr, uint64_t len, uint64_t& first, uint64_t& end) {
  if (len == 0 || addr >= kWindowBase + kWindowSize || addr + len <= kWindowBase || addr + len < addr) return false;
  const uint64_t lo = std::max(addr, kWindowBase) - kWindowBase;
  const uint64_t hi = std::min(addr + len, kWindowBase + kWindowSize) - kWindowBase;
  first = lo / kGranule;
  end = (hi + kGranule - 1) / kGranule;
  return true;
}

}  // namespace

Result<Rights*> Rights::get() {
  static Rights rights;
  static std::once_flag once;
  std::call_once(once, [] {
    void* p = mmap(nullptr, kBitmapBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) rights.bits_ = static_cast<uint8_t*>(p);
  });
  if (!rights.bits_) return make_error("cannot reserve the sfi rights bitmap");
  return &rights;
}

// Bytes of the bitmap wholly inside the range are stored plainly (no other range shares them); the partial bytes
// at either end may hold a neighbour's granules, and are updated atomically.
void Rights::set(uint64_t addr, uint64_t len, bool on) {
  uint64_t g, end;
  if (!granules(addr, len, g, end)) return;
  auto update = [&](uint64_t byte, uint8_t mask) {
    std::atomic_ref<uint8_t> b(bits_[byte]);
    if (on) {
      b.fetch_or(mask, std::memory_order_relaxed);
    } else {
      b.fetch_and(static_cast<uint8_t>(~mask), std::memory_order_relaxed);
    }
  };
  while (g < end && g % 8) update(g / 8, static_cast<uint8_t>(1u << (g % 8))), ++g;
  if (end - g >= 8) {
    std::memset(bits_ + g / 8, on ? 0xff : 0, (end - g) / 8);
    g += (end - g) / 8 * 8;
  }
  while (g < end) update(g / 8, static_cast<uint8_t>(1u << (g % 8))), ++g;
  std::atomic_thread_fence(std::memory_order_release);
}

bool Rights::allowed(uint64_t addr, uint64_t len) const {
  if (!in_window(addr, len ? len : 1)) return false;
  uint64_t g, end;
  if (!granules(addr, len ? len : 1, g, end)) return false;
  for (; g < end; ++g) {
    if (!(std::atomic_ref<uint8_t>(bits_[g / 8]).load(std::memory_order_relaxed) & (1u << (g % 8)))) return false;
  }
  return true;
}

void Rights::clear() {
  madvise(bits_, kBitmapBytes, MADV_DONTNEED);
}

}  // namespace side::sfi
