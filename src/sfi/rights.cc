#include "sfi/rights.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>

#include "sfi/layout.h"

namespace side::sfi {
namespace {

constexpr uint64_t kBitmapBytes = kWindowSize / kGranule / 8;
static_assert(kRightsBase + kBitmapBytes <= kWindowBase);

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
    constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
    void* p = mmap(reinterpret_cast<void*>(kRightsBase), kBitmapBytes, PROT_READ | PROT_WRITE,
                   kFlags | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) p = mmap(nullptr, kBitmapBytes, PROT_READ | PROT_WRITE, kFlags, -1, 0);
    if (p != MAP_FAILED) rights.bits_ = static_cast<uint8_t*>(p);
  });
  if (!rights.bits_) return make_error("cannot reserve the sfi rights bitmap");
  return &rights;
}

// 64-bit words of the bitmap wholly inside the range are stored plainly (no other range shares them); the partial
// words at either end may hold a neighbour's granules, and are updated atomically. Word-wise: an skb's 2 KiB is
// four stores, where bytes took a call to memset and up to fourteen locked byte updates.
void Rights::set(uint64_t addr, uint64_t len, bool on) {
  uint64_t g, end;
  if (!granules(addr, len, g, end)) return;
  auto* words = reinterpret_cast<uint64_t*>(bits_);
  while (g < end) {
    const uint64_t bit = g % 64, span = std::min<uint64_t>(64 - bit, end - g);
    std::atomic_ref<uint64_t> word(words[g / 64]);
    if (span == 64) {
      word.store(on ? ~uint64_t{0} : 0, std::memory_order_relaxed);
    } else if (const uint64_t mask = ((uint64_t{1} << span) - 1) << bit; on) {
      word.fetch_or(mask, std::memory_order_relaxed);
    } else {
      word.fetch_and(~mask, std::memory_order_relaxed);
    }
    g += span;
  }
  std::atomic_thread_fence(std::memory_order_release);
}

bool Rights::allowed(uint64_t addr, uint64_t len) const {
  if (!in_window(addr, len ? len : 1)) return false;
  uint64_t g, end;
  if (!granules(addr, len ? len : 1, g, end)) return false;
  for (; g < end; ++g) {
    const uint64_t word =
        std::atomic_ref<uint64_t>(reinterpret_cast<uint64_t*>(bits_)[g / 64]).load(std::memory_order_relaxed);
    if (!((word >> (g % 64)) & 1)) return false;
  }
  return true;
}

void Rights::clear() {
  madvise(bits_, kBitmapBytes, MADV_DONTNEED);
}

}  // namespace side::sfi
