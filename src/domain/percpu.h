// Per-cpu areas of a domain's virtual CPUs. Per-cpu variables of the kernel-API layer and of every driver are
// offsets into an area; each virtual CPU's GS base points at its own copy, so `%gs:offset` in driver code reaches
// this CPU's instance. Offsets also serve alloc_percpu().
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <vector>

#include "common/result.h"

namespace side::domain {

class PercpuAreas {
 public:
  // With `at` nonzero, the areas are mapped there (the sfi window).
  static Result<PercpuAreas> create(unsigned nr_cpus, uint64_t at = 0);
  PercpuAreas(PercpuAreas&& o) noexcept;
  PercpuAreas& operator=(PercpuAreas&&) = delete;
  ~PercpuAreas();

  unsigned nr_cpus() const { return nr_cpus_; }
  uint64_t base(unsigned cpu) const { return reinterpret_cast<uint64_t>(mem_) + uint64_t{cpu} * area_size(); }
  static uint64_t area_size();

  // An offset valid in every area; 0 when exhausted (offset 0 is never handed out).
  uint64_t allocate(uint64_t size, uint64_t align);
  bool free(uint64_t offset);
  uint64_t size_of(uint64_t offset) const;                          // of a live allocation, or 0
  void initialize(uint64_t offset, std::span<const uint8_t> init);  // copies into every CPU's area
  uint64_t bytes_in_use() const;

 private:
  PercpuAreas() = default;
  uint8_t* mem_ = nullptr;
  unsigned nr_cpus_ = 0;
  mutable std::mutex mutex_;
  std::map<uint64_t, uint64_t> free_;  // offset -> size
  std::map<uint64_t, uint64_t> used_;
};

}  // namespace side::domain
