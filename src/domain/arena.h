// The physical memory of a driver domain: one memfd, mapped shared, that holds everything a device may reach by
// DMA (pages, kmalloc memory, skb data, coherent allocations). The supervisor maps the same memfd and reaches it
// only through the software IOMMU.
//
// Inside it: a buddy allocator of 2^order page blocks (orders 0..10, as the kernel's MAX_ORDER 11) and kmalloc's
// size classes on top. Every live block and object is tracked, so freeing something that was never allocated,
// freeing twice or freeing with the wrong order is reported instead of corrupting the allocator.
//
// The tracking is flat, because kmalloc and kfree run for every frame (an skb's head and data): what each page
// holds (free, a page block, a slab of one class, a large kmalloc object) and a bit per 8-byte granule marking
// where a live kmalloc object starts. Nothing is allocated on the heap per object, and ksize reads without a lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "common/result.h"

namespace side::domain {

class Arena {
 public:
  static constexpr unsigned kMaxOrder = 10;

  enum class FreeError { kNone, kNotAllocated, kWrongOrder };

  struct Stats {
    uint64_t pages_total = 0;
    uint64_t pages_in_use = 0;  // by page blocks and kmalloc slabs
    uint64_t kmalloc_objects = 0;
    uint64_t kmalloc_bytes = 0;
  };

  // `bytes` is rounded up to whole 4 MiB blocks.
  // With `fd` >= 0, the arena is that memfd (at least `bytes` long), created by the supervisor; the arena then owns
  // the descriptor.
  // With `at` nonzero, the arena is mapped there (the sfi window), and must fit below `limit`.
  static Result<Arena> create(uint64_t bytes, int fd = -1, uint64_t at = 0, uint64_t limit = 0);
  Arena(Arena&& other) noexcept;
  Arena& operator=(Arena&&) = delete;
  ~Arena();

  int fd() const { return fd_; }
  uint8_t* base() const { return base_; }
  uint64_t size() const { return nr_pages_ * 4096; }
  uint64_t nr_pages() const { return nr_pages_; }
  bool contains(const void* p, uint64_t len = 1) const;

  void* alloc_pages(unsigned order);
  FreeError free_pages(const void* p, unsigned order);

  // `usable`, when given, receives the object's usable size (what ksize will say).
  void* kmalloc(uint64_t size, uint64_t align, uint64_t* usable = nullptr);
  // Size of the live kmalloc object at p, or 0. Lock-free: the caller owns p (or accepts a stale answer).
  uint64_t ksize(const void* p) const;
  // False if p is not a live kmalloc object (never allocated, or already freed).
  bool kfree(const void* p);

  Stats stats() const;

  // Fault injection: the next `n` allocations (pages or kmalloc) fail, as under memory pressure.
  void fail_next(unsigned n) { fail_next_.store(n); }
  uint64_t injected_failures() const { return injected_failures_.load(); }
  // A live kmalloc object chosen by `seed` (address and size), or nullopt when there is none.
  std::optional<std::pair<uint8_t*, uint64_t>> live_object(uint64_t seed) const;

 private:
  Arena() = default;
  void* alloc_pages_locked(unsigned order);
  bool injected_failure();
  std::atomic<unsigned> fail_next_{0};
  std::atomic<uint64_t> injected_failures_{0};
  FreeError free_pages_locked(uint64_t pfn, unsigned order);
  void* kmalloc_locked(unsigned size_class);

  void* kmalloc_large(uint64_t size, uint64_t& bytes);
  bool live(uint64_t granule) const;
  void set_live(uint64_t granule, bool on);
  uint64_t granule_of(const void* p) const {
    return (reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(base_)) / 8;
  }

  int fd_ = -1;
  uint8_t* base_ = nullptr;
  uint64_t nr_pages_ = 0;
  mutable std::mutex mutex_;
  // What a page is: kInterior (inside a block whose head says), the head of a free block, of a block handed out by
  // alloc_pages, of a slab (its class in class_), or of a large kmalloc object (its size in order_).
  enum : uint8_t { kInterior = 0, kFreeHead = 1, kUsedHead = 2, kSlabHead = 3, kLargeHead = 4 };
  std::vector<uint8_t> state_;  // per page
  std::vector<uint8_t> order_;  // per block head
  std::vector<int8_t> class_;   // per page: the size class of the slab it belongs to, or -1
  // A bit per 8-byte granule: a live kmalloc object starts here. calloc'd: for a bitmap this size the C library maps
  // fresh zero pages, so only the words in use take memory (1 MiB of bits for the default 64 MiB arena).
  struct FreeBits {
    void operator()(uint64_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint64_t[], FreeBits> live_;
  uint64_t live_words_ = 0;
  std::set<uint64_t> free_[kMaxOrder + 1];
  std::vector<std::vector<uint64_t>> class_free_;  // free objects of each size class
  uint64_t pages_in_use_ = 0;
  uint64_t kmalloc_objects_ = 0;
  uint64_t kmalloc_bytes_ = 0;
};

}  // namespace side::domain
