#include "domain/arena.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace side::domain {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint32_t kClasses[] = {8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192};
constexpr unsigned kNumClasses = sizeof(kClasses) / sizeof(kClasses[0]);

// Slabs hold at least four objects (the largest classes take 8 and 32 KiB blocks).
unsigned slab_order(uint32_t size) {
  unsigned order = 0;
  while ((kPage << order) < uint64_t{size} * 4 && order < 3) ++order;
  return order;
}

}  // namespace

Result<Arena> Arena::create(uint64_t bytes, int fd, uint64_t at, uint64_t limit) {
  const uint64_t block = kPage << kMaxOrder;
  bytes = (bytes + block - 1) / block * block;
  if (bytes == 0) return make_error("arena size must be positive");
  if (at && bytes > limit - at) return make_error("the arena is larger than its place in the sfi window");
  Arena a;
  if (fd >= 0) {
    a.fd_ = fd;
    struct stat st {};
    if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < bytes) {
      return make_error("the arena descriptor is smaller than the arena");
    }
  } else {
    a.fd_ = memfd_create("side-domain-arena", MFD_CLOEXEC);
    if (a.fd_ < 0) return make_error(std::string("memfd_create: ") + std::strerror(errno));
    if (ftruncate(a.fd_, static_cast<off_t>(bytes)) != 0)
      return make_error(std::string("ftruncate: ") + std::strerror(errno));
  }
  void* p = mmap(reinterpret_cast<void*>(at), bytes, PROT_READ | PROT_WRITE,
                 MAP_SHARED | (at ? MAP_FIXED_NOREPLACE : 0), a.fd_, 0);
  if (p == MAP_FAILED) return make_error(std::string("mmap arena: ") + std::strerror(errno));
  a.base_ = static_cast<uint8_t*>(p);
  a.nr_pages_ = bytes / kPage;
  a.state_.assign(a.nr_pages_, kInterior);
  a.order_.assign(a.nr_pages_, 0);
  for (uint64_t pfn = 0; pfn < a.nr_pages_; pfn += 1u << kMaxOrder) {
    a.state_[pfn] = kFreeHead;
    a.order_[pfn] = kMaxOrder;
    a.free_[kMaxOrder].insert(pfn);
  }
  a.class_free_.resize(kNumClasses);
  return a;
}

Arena::Arena(Arena&& o) noexcept
    : fd_(o.fd_),
      base_(o.base_),
      nr_pages_(o.nr_pages_),
      state_(std::move(o.state_)),
      order_(std::move(o.order_)),
      class_free_(std::move(o.class_free_)),
      live_(std::move(o.live_)),
      pages_in_use_(o.pages_in_use_),
      kmalloc_bytes_(o.kmalloc_bytes_) {
  for (unsigned i = 0; i <= kMaxOrder; ++i) free_[i] = std::move(o.free_[i]);
  o.fd_ = -1;
  o.base_ = nullptr;
}

Arena::~Arena() {
  if (base_) munmap(base_, nr_pages_ * kPage);
  if (fd_ >= 0) close(fd_);
}

bool Arena::contains(const void* p, uint64_t len) const {
  auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(base_);
  return a >= b && len <= size() && a - b <= size() - len;
}

bool Arena::injected_failure() {
  unsigned n = fail_next_.load();
  while (n > 0 && !fail_next_.compare_exchange_weak(n, n - 1)) {
  }
  if (n == 0) return false;
  injected_failures_.fetch_add(1);
  return true;
}

std::optional<std::pair<uint8_t*, uint64_t>> Arena::live_object(uint64_t seed) const {
  std::lock_guard lock(mutex_);
  if (live_.empty()) return std::nullopt;
  auto it = live_.begin();
  std::advance(it, static_cast<long>(seed % live_.size()));
  return std::make_pair(reinterpret_cast<uint8_t*>(it->first), uint64_t{it->second.size});
}

void* Arena::alloc_pages(unsigned order) {
  if (injected_failure()) return nullptr;
  std::lock_guard lock(mutex_);
  return alloc_pages_locked(order);
}

void* Arena::alloc_pages_locked(unsigned order) {
  if (order > kMaxOrder) return nullptr;
  unsigned o = order;
  while (o <= kMaxOrder && free_[o].empty()) ++o;
  if (o > kMaxOrder) return nullptr;
  uint64_t pfn = *free_[o].begin();
  free_[o].erase(free_[o].begin());
  // Split: the upper halves go back to the free lists.
  while (o > order) {
    --o;
    uint64_t buddy = pfn + (uint64_t{1} << o);
    state_[buddy] = kFreeHead;
    order_[buddy] = static_cast<uint8_t>(o);
    free_[o].insert(buddy);
  }
  state_[pfn] = kUsedHead;
  order_[pfn] = static_cast<uint8_t>(order);
  pages_in_use_ += uint64_t{1} << order;
  return base_ + pfn * kPage;
}

Arena::FreeError Arena::free_pages(const void* p, unsigned order) {
  if (!contains(p) || (reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(base_)) % kPage != 0) {
    return FreeError::kNotAllocated;
  }
  std::lock_guard lock(mutex_);
  return free_pages_locked((static_cast<const uint8_t*>(p) - base_) / kPage, order);
}

Arena::FreeError Arena::free_pages_locked(uint64_t pfn, unsigned order) {
  if (state_[pfn] != kUsedHead) return FreeError::kNotAllocated;
  if (order_[pfn] != order) return FreeError::kWrongOrder;
  pages_in_use_ -= uint64_t{1} << order;
  // Coalesce with free buddies of the same order.
  while (order < kMaxOrder) {
    uint64_t buddy = pfn ^ (uint64_t{1} << order);
    if (buddy >= nr_pages_ || state_[buddy] != kFreeHead || order_[buddy] != order) break;
    free_[order].erase(buddy);
    state_[buddy] = kInterior;
    state_[pfn] = kInterior;
    pfn = std::min(pfn, buddy);
    ++order;
  }
  state_[pfn] = kFreeHead;
  order_[pfn] = static_cast<uint8_t>(order);
  free_[order].insert(pfn);
  return FreeError::kNone;
}

void* Arena::kmalloc(uint64_t size, uint64_t align) {
  if (size == 0 || size > (uint64_t{1} << 31)) return nullptr;
  if (align == 0 || (align & (align - 1)) != 0) return nullptr;
  // Power-of-two classes of at least `align` bytes are naturally aligned (slabs start on a page boundary).
  uint64_t need = std::max(size, align);
  if (injected_failure()) return nullptr;
  std::lock_guard lock(mutex_);
  for (unsigned c = 0; c < kNumClasses; ++c) {
    if (kClasses[c] < need) continue;
    if (align > 8 && (kClasses[c] & (kClasses[c] - 1)) != 0) continue;  // 96/192 are only 32-byte aligned
    return kmalloc_locked(c);
  }
  // Large: whole page blocks.
  unsigned order = 0;
  while ((kPage << order) < need) ++order;
  void* p = alloc_pages_locked(order);
  if (!p) return nullptr;
  live_.emplace(reinterpret_cast<uint64_t>(p), Object{static_cast<uint32_t>(size), -1, static_cast<uint8_t>(order)});
  kmalloc_bytes_ += size;
  return p;
}

void* Arena::kmalloc_locked(unsigned c) {
  auto& list = class_free_[c];
  if (list.empty()) {
    unsigned order = slab_order(kClasses[c]);
    auto* slab = static_cast<uint8_t*>(alloc_pages_locked(order));
    if (!slab) return nullptr;
    uint64_t n = (kPage << order) / kClasses[c];
    for (uint64_t i = n; i-- > 0;) list.push_back(reinterpret_cast<uint64_t>(slab) + i * kClasses[c]);
  }
  uint64_t addr = list.back();
  list.pop_back();
  live_.emplace(addr, Object{kClasses[c], static_cast<int8_t>(c), 0});
  kmalloc_bytes_ += kClasses[c];
  return reinterpret_cast<void*>(addr);
}

uint64_t Arena::ksize(const void* p) const {
  std::lock_guard lock(mutex_);
  auto it = live_.find(reinterpret_cast<uint64_t>(p));
  return it == live_.end() ? 0 : it->second.size;
}

bool Arena::kfree(const void* p) {
  std::lock_guard lock(mutex_);
  auto it = live_.find(reinterpret_cast<uint64_t>(p));
  if (it == live_.end()) return false;
  Object o = it->second;
  live_.erase(it);
  kmalloc_bytes_ -= o.size;
  if (o.size_class < 0) {
    free_pages_locked((static_cast<const uint8_t*>(p) - base_) / kPage, o.order);
  } else {
    class_free_[o.size_class].push_back(reinterpret_cast<uint64_t>(p));
  }
  return true;
}

Arena::Stats Arena::stats() const {
  std::lock_guard lock(mutex_);
  return Stats{nr_pages_, pages_in_use_, live_.size(), kmalloc_bytes_};
}

}  // namespace side::domain
