#include "devices/iommu/iova_allocator.h"

#include "devices/iommu/iommu.h"

namespace side::iommu {

IovaAllocator::IovaAllocator(uint64_t base, uint64_t size) {
  uint64_t start = (base + kPageMask) & ~kPageMask;
  if (start < base) return;  // overflow: empty allocator
  uint64_t end = base + size < base ? ~uint64_t{0} & ~kPageMask : (base + size) & ~kPageMask;
  if (start == 0) start = kPageSize;
  if (end > start) free_.emplace(start, end - start);
}

Result<uint64_t> IovaAllocator::allocate(uint64_t length, uint64_t align) {
  if (length == 0) return make_error("iova allocate: zero length");
  if (length > ~uint64_t{0} - kPageMask) return make_error("iova allocate: length too large");
  length = (length + kPageMask) & ~kPageMask;
  if (align < kPageSize) align = kPageSize;
  if (align & (align - 1)) return make_error("iova allocate: alignment not a power of two");
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    uint64_t start = it->first, len = it->second;
    uint64_t a = (start + align - 1) & ~(align - 1);
    if (a < start || a - start >= len || len - (a - start) < length) continue;
    // Split the free block into [start, a) and [a+length, start+len).
    uint64_t tail_start = a + length, tail_len = start + len - tail_start;
    free_.erase(it);
    if (a > start) free_.emplace(start, a - start);
    if (tail_len) free_.emplace(tail_start, tail_len);
    allocations_.emplace(a, length);
    allocated_bytes_ += length;
    return a;
  }
  return make_error("iova allocate: address space exhausted");
}

Status IovaAllocator::free(uint64_t iova, uint64_t length) {
  length = (length + kPageMask) & ~kPageMask;
  auto it = allocations_.find(iova);
  if (it == allocations_.end()) return make_error("iova free: not an allocation");
  if (it->second != length) return make_error("iova free: length differs from the allocation");
  allocations_.erase(it);
  allocated_bytes_ -= length;
  uint64_t start = iova, len = length;
  auto next = free_.lower_bound(start);
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      len += prev->second;
      free_.erase(prev);
    }
  }
  if (next != free_.end() && next->first == iova + length) {
    len += next->second;
    free_.erase(next);
  }
  free_.emplace(start, len);
  return {};
}

}  // namespace side::iommu
