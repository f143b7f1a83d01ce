// The Linux DMA API's rules, enforced on a domain's requests before they reach the IOMMU.
//
// DMA addresses are identity-mapped (the bus address of a buffer is its arena physical address), so the domain
// knows a mapping's address without asking and the device's hot path translates through the IOMMU's pre-built
// entries. What the supervisor decides is permission: a page is open to the device in a direction while at least
// one live mapping covers it in that direction. Every mapping is remembered exactly (address, length, direction),
// so unmapping something that was never mapped, or with another length or direction, is refused and reported as
// the driver bug it is (CONFIG_DMA_API_DEBUG's checks, always on).
//
// The work of one request is bounded: a mapping is at most kMaxMappingBytes, so a map or unmap touches at most
// that many pages, whatever the domain asks (a posted request is a 64-byte message; the whole arena in one would
// cost the supervisor milliseconds per message).
#pragma once

#include <cstdint>
#include <map>
#include <memory_resource>
#include <tuple>
#include <vector>

#include "common/adaptive_mutex.h"
#include "common/result.h"
#include "devices/iommu/iommu.h"

namespace side::supervisor {

class DmaPermissions {
 public:
  static constexpr uint64_t kMaxMappings = 1u << 20;  // per device: beyond this a map is refused (-ENOMEM)
  // The largest mapping: the kernel's largest physically contiguous allocation (MAX_ORDER - 1 = order 10, 4 MiB
  // with 4 KiB pages), so no buffer a Linux driver can allocate is refused. Longer requests are refused (-EINVAL).
  static constexpr uint64_t kMaxMappingBytes = 4ull << 20;

  // Bus addresses [phys_base, phys_base + arena_size) are the arena; the IOMMU translates into it.
  DmaPermissions(iommu::Iommu& iommu, uint64_t phys_base, uint64_t arena_size);

  // 0 or a negative errno, as side_host_dma_map/unmap return them. `dir` is SIDE_DMA_*.
  int map(uint64_t phys, uint64_t size, int dir);
  int unmap(uint64_t phys, uint64_t size, int dir);
  // Drops every mapping (the device was reset or the domain is gone).
  void clear();
  // Drops every mapping and serves a new domain's arena (of `arena_size` bytes) from now on.
  void retarget(uint8_t* arena_base, uint64_t arena_size);

  uint64_t live_mappings() const;
  uint64_t refused() const;

 private:
  struct PageUse {
    uint32_t reads = 0, writes = 0;  // live mappings letting the device read / write the page
  };
  bool valid_range(uint64_t phys, uint64_t size) const;
  PageUse& use_of(uint64_t page);
  void update_page(uint64_t page, const PageUse& before, const PageUse& after);

  iommu::Iommu& iommu_;
  uint64_t base_, size_;
  // The domain's virtual CPUs map and unmap concurrently, a few hundred nanoseconds each (a frame's buffer): the
  // loser spins rather than sleeps.
  mutable AdaptiveMutex mu_;
  // (phys, size, dir) -> count. Its nodes come from a pool that keeps the freed ones: a frame's buffer mapped and
  // unmapped costs no heap allocation once the pool holds as many nodes as mappings were ever live at once.
  std::pmr::unsynchronized_pool_resource node_pool_;
  std::pmr::map<std::tuple<uint64_t, uint64_t, int>, uint32_t> mappings_{&node_pool_};
  // Per page of the arena (index: page number - the arena's first): no allocation when a frame's buffer is mapped.
  std::vector<PageUse> pages_;
  uint64_t live_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace side::supervisor
