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

// The smallest class that holds `need` bytes aligned to `align`, or -1 (a large allocation).
int size_class(uint64_t need, uint64_t align) {
  for (unsigned c = 0; c < kNumClasses; ++c) {
    if (kClasses[c] < need) continue;
    if (align > 8 && (kClasses[c] & (kClasses[c] - 1)) != 0) continue;  // 96/192 are only 32-byte aligned
    return static_cast<int>(c);
  }
  return -1;
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
  a.class_.assign(a.nr_pages_, -1);
  a.live_words_ = a.nr_pages_ * kPage / 8 / 64;
  a.live_.reset(static_cast<uint64_t*>(std::calloc(a.live_words_, sizeof(uint64_t))));
  if (!a.live_) return make_error("cannot allocate the arena's object map");
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
      class_(std::move(o.class_)),
      live_(std::move(o.live_)),
      live_words_(o.live_words_),
      class_free_(std::move(o.class_free_)),
      pages_in_use_(o.pages_in_use_),
      kmalloc_objects_(o.kmalloc_objects_),
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

bool Arena::live(uint64_t granule) const {
  return (std::atomic_ref<const uint64_t>(live_[granule / 64]).load(std::memory_order_acquire) >> (granule % 64)) & 1;
}

// Under the lock (writers are serialised); atomic so that ksize may read without it.
void Arena::set_live(uint64_t granule, bool on) {
  std::atomic_ref<uint64_t> word(live_[granule / 64]);
  const uint64_t bit = uint64_t{1} << (granule % 64);
  word.store(on ? word.load(std::memory_order_relaxed) | bit : word.load(std::memory_order_relaxed) & ~bit,
             std::memory_order_release);
}

// The first live object at or after the granule `seed` picks, wrapping around.
std::optional<std::pair<uint8_t*, uint64_t>> Arena::live_object(uint64_t seed) const {
  std::lock_guard lock(mutex_);
  if (kmalloc_objects_ == 0) return std::nullopt;
  const uint64_t words = live_words_, start = seed % words;
  for (uint64_t i = 0; i < words; ++i) {
    const uint64_t w = (start + i) % words;
    if (live_[w] == 0) continue;
    uint8_t* p = base_ + (w * 64 + static_cast<uint64_t>(__builtin_ctzll(live_[w]))) * 8;
    return std::make_pair(p, ksize(p));
  }
  return std::nullopt;
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

void* Arena::kmalloc(uint64_t size, uint64_t align, uint64_t* usable) {
  if (size == 0 || size > (uint64_t{1} << 31)) return nullptr;
  if (align == 0 || (align & (align - 1)) != 0) return nullptr;
  // Power-of-two classes of at least `align` bytes are naturally aligned (slabs start on a page boundary).
  const uint64_t need = std::max(size, align);
  if (injected_failure()) return nullptr;
  const int c = size_class(need, align);
  uint64_t n = 0;
  std::lock_guard lock(mutex_);
  void* p = c >= 0 ? kmalloc_locked(static_cast<unsigned>(c)) : kmalloc_large(need, n);
  if (!p) return nullptr;
  if (c >= 0) n = kClasses[c];
  set_live(granule_of(p), true);
  ++kmalloc_objects_;
  kmalloc_bytes_ += n;
  if (usable) *usable = n;
  return p;
}

// Larger than every class (or aligned beyond it): a whole page block, aligned to its size (`bytes`).
void* Arena::kmalloc_large(uint64_t size, uint64_t& bytes) {
  unsigned order = 0;
  while ((kPage << order) < size) ++order;
  void* p = alloc_pages_locked(order);
  if (!p) return nullptr;
  bytes = kPage << order;
  state_[(static_cast<uint8_t*>(p) - base_) / kPage] = kLargeHead;
  return p;
}

void* Arena::kmalloc_locked(unsigned c) {
  auto& list = class_free_[c];
  if (list.empty()) {
    unsigned order = slab_order(kClasses[c]);
    auto* slab = static_cast<uint8_t*>(alloc_pages_locked(order));
    if (!slab) return nullptr;
    // A slab keeps its class for the arena's life: its objects return to the class's free list, never to the
    // buddy allocator.
    const uint64_t pfn = (slab - base_) / kPage;
    state_[pfn] = kSlabHead;
    for (uint64_t i = 0; i < (uint64_t{1} << order); ++i) class_[pfn + i] = static_cast<int8_t>(c);
    uint64_t n = (kPage << order) / kClasses[c];
    for (uint64_t i = n; i-- > 0;) list.push_back(reinterpret_cast<uint64_t>(slab) + i * kClasses[c]);
  }
  uint64_t addr = list.back();
  list.pop_back();
  return reinterpret_cast<void*>(addr);
}

uint64_t Arena::ksize(const void* p) const {
  if (!contains(p) || reinterpret_cast<uintptr_t>(p) % 8 != 0 || !live(granule_of(p))) return 0;
  const uint64_t pfn = (static_cast<const uint8_t*>(p) - base_) / kPage;
  const int8_t c = class_[pfn];
  // A large object is its whole block, as Linux's ksize says of a kmalloc_large allocation.
  return c >= 0 ? kClasses[c] : kPage << order_[pfn];
}

bool Arena::kfree(const void* p) {
  if (!contains(p) || reinterpret_cast<uintptr_t>(p) % 8 != 0) return false;
  std::lock_guard lock(mutex_);
  const uint64_t size = ksize(p);
  if (size == 0) return false;
  set_live(granule_of(p), false);
  --kmalloc_objects_;
  kmalloc_bytes_ -= size;
  const uint64_t pfn = (static_cast<const uint8_t*>(p) - base_) / kPage;
  if (const int8_t c = class_[pfn]; c >= 0) {
    class_free_[c].push_back(reinterpret_cast<uint64_t>(p));
    return true;
  }
  state_[pfn] = kUsedHead;
  free_pages_locked(pfn, order_[pfn]);
  return true;
}

Arena::Stats Arena::stats() const {
  std::lock_guard lock(mutex_);
  return Stats{nr_pages_, pages_in_use_, kmalloc_objects_, kmalloc_bytes_};
}

}  // namespace side::domain
