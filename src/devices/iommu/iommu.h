// Software IOMMU: every DMA an emulated device performs goes through here. The domain's "physical memory" is an
// arena (one contiguous host mapping, later a shared memfd); the device model never sees the arena pointer, only
// IOVAs, which this class translates page by page (4 KiB) with per-page permissions.
//
// Translation structure (the SIDE paper's DMA address pre-translation): the domain's DMA API maps a buffer once
// (map()), so translation state is built at map time rather than on every access. Lookups go first through a
// small direct-mapped software IOTLB (64 entries indexed by IOVA page number) holding the host pointer of the page
// and its permission, and only on a miss through the authoritative page table (a hash map from IOVA page number to
// arena page). unmap() invalidates the IOTLB entries of the pages it removes, so a stale translation can never be
// used after the domain revoked it. The hot path (a descriptor or a frame inside one or two pages) is therefore a
// couple of array probes, no tree walk.
//
// Faults: a DMA touching any unmapped page, or a page without the needed direction, is an IOMMU fault. It is
// counted, recorded in a bounded log of recent faults, and not carried out at all: every page of a DMA is checked
// before any byte moves, so a partially permitted DMA is never half-performed.
//
// Thread-safety: all public functions take an internal mutex; map/unmap may come from the supervisor's domain
// message thread while a device model performs DMA from another.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/adaptive_mutex.h"
#include "common/result.h"

namespace side::iommu {

inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint64_t kPageMask = kPageSize - 1;

// Named after the Linux DMA API directions, from the device's point of view.
enum class Perm : uint8_t {
  kNone = 0,
  kDeviceRead = 1,     // DMA_TO_DEVICE: the device may read memory
  kDeviceWrite = 2,    // DMA_FROM_DEVICE: the device may write memory
  kBidirectional = 3,  // DMA_BIDIRECTIONAL
};

enum class Direction : uint8_t { kDeviceRead, kDeviceWrite };

enum class FaultReason : uint8_t {
  kUnmapped,    // some page of the range has no mapping
  kPermission,  // mapped, but not for this direction
  kOverflow,    // iova + length wraps around
};

const char* to_string(FaultReason r);
const char* to_string(Direction d);

struct Fault {
  uint64_t iova = 0;        // start of the faulting DMA
  uint64_t length = 0;      // its length
  uint64_t fault_page = 0;  // IOVA of the first offending page
  Direction direction = Direction::kDeviceRead;
  FaultReason reason = FaultReason::kUnmapped;
  uint64_t sequence = 0;  // 1-based, monotonic over the IOMMU's lifetime
};

struct Counters {
  uint64_t map_calls = 0;
  uint64_t unmap_calls = 0;
  uint64_t rejected_maps = 0;  // map/unmap refused by validation
  uint64_t dma_reads = 0;      // completed device reads
  uint64_t dma_writes = 0;     // completed device writes
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t faults = 0;  // all faults
  uint64_t faults_unmapped = 0;
  uint64_t faults_permission = 0;
  uint64_t faults_overflow = 0;
  uint64_t iotlb_hits = 0;
  uint64_t iotlb_misses = 0;
};

class Iommu {
 public:
  static constexpr size_t kIotlbEntries = 64;
  static constexpr size_t kDefaultFaultLog = 64;

  // The arena must stay valid for the IOMMU's lifetime. Its size is rounded down to whole pages.
  Iommu(uint8_t* arena_base, size_t arena_size, size_t fault_log_capacity = kDefaultFaultLog);
  Iommu(const Iommu&) = delete;
  Iommu& operator=(const Iommu&) = delete;

  // Maps [iova, iova+length) to [arena_offset, arena_offset+length). iova, arena_offset and length must be
  // page aligned, length > 0, nothing may overflow, the arena range must be inside the arena, perm not kNone, and
  // no page of the IOVA range may already be mapped. Each successful call creates one mapping.
  Status map(uint64_t iova, uint64_t arena_offset, uint64_t length, Perm perm);

  // Removes whole mappings: [iova, iova+length) must be exactly the union of one or more mappings created by
  // map() (the DMA API unmaps what it mapped). Partially covered mappings or holes are refused and nothing changes.
  Status unmap(uint64_t iova, uint64_t length);

  // Gives the mappings that tile [iova, iova+length) exactly (as unmap() takes them) permission `perm` (not kNone)
  // in one step: a device access to them never sees them closed in between, as it could between an unmap() and a
  // map(). Refused, nothing changed, as unmap() refuses.
  Status protect(uint64_t iova, uint64_t length, Perm perm);

  // Drops every mapping (domain teardown / recovery).
  void unmap_all();
  // Drops every mapping and translates into another arena from now on: the device now serves a new domain.
  void retarget(uint8_t* arena_base, size_t arena_size);

  // Device-side DMA. All pages are checked first; on any fault nothing is transferred, the fault is recorded and
  // an error returned. len == 0 succeeds without touching memory.
  Status dma_read(uint64_t iova, void* dst, size_t len);
  Status dma_write(uint64_t iova, const void* src, size_t len);

  // Checks that a DMA of `len` bytes at `iova` in direction `dir` would be permitted, without moving data. A
  // refusal is recorded as a fault exactly like a refused dma_read/dma_write: a device uses this when it must
  // validate several buffers before writing any of them (all-or-nothing multi-buffer DMA).
  Status probe(uint64_t iova, size_t len, Direction dir);

  // Several DMAs under one hold of the IOMMU's lock, as a device does them for one frame (read a descriptor, check
  // its buffers, write the data and the write-back): one lock instead of one per access, against the driver's
  // map/unmap calls on another CPU, and no mapping changes between the checks and the writes. Keep a burst short
  // (a frame's accesses): map and unmap wait for it. Must not outlive the IOMMU; not to be nested.
  class Burst {
   public:
    Status dma_read(uint64_t iova, void* dst, size_t len) { return iommu_.read_locked(iova, dst, len); }
    Status dma_write(uint64_t iova, const void* src, size_t len) { return iommu_.write_locked(iova, src, len); }
    Status probe(uint64_t iova, size_t len, Direction dir) { return iommu_.check_locked(iova, len, dir); }

   private:
    friend class Iommu;
    explicit Burst(Iommu& iommu) : iommu_(iommu), lock_(iommu.mu_) {}
    Iommu& iommu_;
    std::lock_guard<AdaptiveMutex> lock_;
  };
  Burst burst() { return Burst(*this); }

  // Called for every fault, with the IOMMU's lock held (it must not call back into the IOMMU): the supervisor
  // attributes the fault to the driver that programmed the device.
  void set_fault_hook(std::function<void(const Fault&)> hook) {
    std::lock_guard lock(mu_);
    fault_hook_ = std::move(hook);
  }

  // Observability.
  size_t mapping_count() const;
  size_t mapped_pages() const;
  Counters counters() const;
  std::vector<Fault> recent_faults() const;  // oldest first, at most the log capacity
  // For tests and debugging: the arena offset an IOVA translates to for `dir`, without recording a fault.
  Result<uint64_t> translate(uint64_t iova, Direction dir) const;

 private:
  struct PageEntry {
    uint64_t arena_page;  // arena offset >> kPageShift
    Perm perm;
  };
  struct Mapping {
    uint64_t length;
    uint64_t arena_offset;
    Perm perm;
  };
  struct IotlbEntry {
    uint64_t iova_page = ~uint64_t{0};  // tag; all-ones = invalid (no page can have that number)
    uint8_t* host = nullptr;
    Perm perm = Perm::kNone;
  };

  // Translation of one page for `dir`; null if unmapped or not permitted (reason in *why).
  uint8_t* lookup_locked(uint64_t iova_page, Direction dir, FaultReason* why);
  Status check_locked(uint64_t iova, size_t len, Direction dir);
  Status read_locked(uint64_t iova, void* dst, size_t len);
  Status write_locked(uint64_t iova, const void* src, size_t len);
  void record_fault_locked(uint64_t iova, uint64_t len, uint64_t page, Direction dir, FaultReason why);

  uint8_t* base_;
  size_t size_;
  const size_t fault_capacity_;
  mutable AdaptiveMutex mu_;
  std::unordered_map<uint64_t, PageEntry> pages_;
  std::map<uint64_t, Mapping> mappings_;  // keyed by IOVA start
  using MappingIt = std::map<uint64_t, Mapping>::iterator;
  Result<std::pair<MappingIt, MappingIt>> tiling_locked(uint64_t iova, uint64_t length);
  std::array<IotlbEntry, kIotlbEntries> iotlb_{};
  std::deque<Fault> faults_;
  std::function<void(const Fault&)> fault_hook_;
  Counters counters_;
};

}  // namespace side::iommu
