#include "domain/percpu.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "domain/layout.h"

namespace side::domain {

uint64_t PercpuAreas::area_size() {
  return kPercpuAreaSize;
}

Result<PercpuAreas> PercpuAreas::create(unsigned nr_cpus, uint64_t at) {
  if (nr_cpus == 0 || nr_cpus > kMaxVcpus) return make_error("bad number of virtual CPUs");
  PercpuAreas a;
  void* p = mmap(reinterpret_cast<void*>(at), kPercpuAreaSize * nr_cpus, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED_NOREPLACE : 0), -1, 0);
  if (p == MAP_FAILED) return make_error(std::string("mmap per-cpu areas: ") + std::strerror(errno));
  a.mem_ = static_cast<uint8_t*>(p);
  a.nr_cpus_ = nr_cpus;
  // [0, kPercpuFixedSize) is the kernel's fixed_percpu_data (the stack canary lives at %gs:40).
  a.free_.emplace(kPercpuFixedSize, kPercpuAreaSize - kPercpuFixedSize);
  return a;
}

PercpuAreas::PercpuAreas(PercpuAreas&& o) noexcept
    : mem_(o.mem_), nr_cpus_(o.nr_cpus_), free_(std::move(o.free_)), used_(std::move(o.used_)) {
  o.mem_ = nullptr;
}

PercpuAreas::~PercpuAreas() {
  if (mem_) munmap(mem_, kPercpuAreaSize * nr_cpus_);
}

uint64_t PercpuAreas::allocate(uint64_t size, uint64_t align) {
  if (size == 0) size = 1;
  if (align == 0 || (align & (align - 1)) != 0 || align > kPageSize) return 0;
  std::lock_guard lock(mutex_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    uint64_t start = (it->first + align - 1) & ~(align - 1);
    uint64_t end = it->first + it->second;
    if (start > end || end - start < size) continue;
    uint64_t block = it->first, block_size = it->second;
    free_.erase(it);
    if (start > block) free_.emplace(block, start - block);
    if (block + block_size > start + size) free_.emplace(start + size, block + block_size - start - size);
    used_.emplace(start, size);
    for (unsigned cpu = 0; cpu < nr_cpus_; ++cpu) std::memset(mem_ + cpu * kPercpuAreaSize + start, 0, size);
    return start;
  }
  return 0;
}

uint64_t PercpuAreas::size_of(uint64_t offset) const {
  std::lock_guard lock(mutex_);
  auto it = used_.find(offset);
  return it == used_.end() ? 0 : it->second;
}

bool PercpuAreas::free(uint64_t offset) {
  std::lock_guard lock(mutex_);
  auto it = used_.find(offset);
  if (it == used_.end()) return false;
  uint64_t start = it->first, size = it->second;
  used_.erase(it);
  // Merge with neighbours.
  auto next = free_.lower_bound(start);
  if (next != free_.end() && next->first == start + size) {
    size += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      start = prev->first;
      size += prev->second;
      free_.erase(prev);
    }
  }
  free_.emplace(start, size);
  return true;
}

void PercpuAreas::initialize(uint64_t offset, std::span<const uint8_t> init) {
  if (offset > kPercpuAreaSize || init.size() > kPercpuAreaSize - offset) return;
  for (unsigned cpu = 0; cpu < nr_cpus_; ++cpu)
    std::memcpy(mem_ + cpu * kPercpuAreaSize + offset, init.data(), init.size());
}

uint64_t PercpuAreas::bytes_in_use() const {
  std::lock_guard lock(mutex_);
  uint64_t n = 0;
  for (auto& [o, s] : used_) n += s;
  return n;
}

}  // namespace side::domain
