// Hands out IOVA ranges for the domain-side DMA API: dma_map_single()/dma_alloc_coherent() in the domain ask the
// supervisor for an IOVA range, the supervisor allocates it here and then calls Iommu::map(). First fit over a
// free list kept sorted by address, with coalescing on free; all ranges page granular.
//
// Not thread-safe: the supervisor's domain message thread owns it.
#pragma once

#include <cstdint>
#include <map>

#include "common/result.h"

namespace side::iommu {

class IovaAllocator {
 public:
  // Manages [base, base+size); both are rounded inward to pages. base 0 is allowed but the first page is then
  // held back so that IOVA 0 (a classic "NULL DMA address") is never handed out.
  IovaAllocator(uint64_t base, uint64_t size);

  // length > 0, rounded up to pages; align is a power of two >= page size (smaller values mean page alignment).
  Result<uint64_t> allocate(uint64_t length, uint64_t align = 0);
  // Frees exactly one earlier allocation (same start, same rounded length).
  Status free(uint64_t iova, uint64_t length);

  uint64_t allocated_bytes() const { return allocated_bytes_; }
  size_t allocation_count() const { return allocations_.size(); }

 private:
  std::map<uint64_t, uint64_t> free_;         // start -> length
  std::map<uint64_t, uint64_t> allocations_;  // start -> length
  uint64_t allocated_bytes_ = 0;
};

}  // namespace side::iommu
