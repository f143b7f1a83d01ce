#include "supervisor/dma_permissions.h"

#include <cerrno>

#include "kapi/side_host.h"

namespace side::supervisor {
namespace {

iommu::Perm perm_of(const auto& use) {
  int p = (use.reads ? 1 : 0) | (use.writes ? 2 : 0);
  return static_cast<iommu::Perm>(p);
}

// The pages bus addresses [base, base + bytes) touch.
uint64_t pages_of(uint64_t base, uint64_t bytes) {
  return bytes ? ((base + bytes - 1) >> iommu::kPageShift) - (base >> iommu::kPageShift) + 1 : 0;
}

}  // namespace

DmaPermissions::DmaPermissions(iommu::Iommu& iommu, uint64_t phys_base, uint64_t arena_size)
    : iommu_(iommu), base_(phys_base), size_(arena_size), pages_(pages_of(phys_base, arena_size)) {}

bool DmaPermissions::valid_range(uint64_t phys, uint64_t size) const {
  return size > 0 && size <= kMaxMappingBytes && phys >= base_ && phys - base_ <= size_ &&
         size <= size_ - (phys - base_);
}

// `page` is one of the arena's (valid_range).
DmaPermissions::PageUse& DmaPermissions::use_of(uint64_t page) {
  return pages_[page - (base_ >> iommu::kPageShift)];
}

void DmaPermissions::update_page(uint64_t page, const PageUse& before, const PageUse& after) {
  iommu::Perm old_perm = perm_of(before), new_perm = perm_of(after);
  if (old_perm == new_perm) return;
  uint64_t iova = page << iommu::kPageShift;
  // A page that stays open changes its permission in one step: an unmap and a map let the device, on another
  // thread, find it closed in between (a frame written into a receive buffer there failed half-way).
  if (old_perm == iommu::Perm::kNone)
    (void)iommu_.map(iova, iova - base_, iommu::kPageSize, new_perm);
  else if (new_perm == iommu::Perm::kNone)
    (void)iommu_.unmap(iova, iommu::kPageSize);
  else
    (void)iommu_.protect(iova, iommu::kPageSize, new_perm);
}

int DmaPermissions::map(uint64_t phys, uint64_t size, int dir) {
  if (!valid_range(phys, size) ||
      (dir != SIDE_DMA_BIDIRECTIONAL && dir != SIDE_DMA_TO_DEVICE && dir != SIDE_DMA_FROM_DEVICE)) {
    std::lock_guard lock(mu_);
    ++refused_;
    return -EINVAL;
  }
  std::lock_guard lock(mu_);
  if (live_ >= kMaxMappings) {
    ++refused_;
    return -ENOMEM;
  }
  ++mappings_[{phys, size, dir}];
  ++live_;
  bool device_reads = dir != SIDE_DMA_FROM_DEVICE, device_writes = dir != SIDE_DMA_TO_DEVICE;
  for (uint64_t page = phys >> iommu::kPageShift; page <= (phys + size - 1) >> iommu::kPageShift; ++page) {
    PageUse& use = use_of(page);
    PageUse before = use;
    use.reads += device_reads;
    use.writes += device_writes;
    update_page(page, before, use);
  }
  return 0;
}

int DmaPermissions::unmap(uint64_t phys, uint64_t size, int dir) {
  std::lock_guard lock(mu_);
  auto it = mappings_.find({phys, size, dir});
  if (it == mappings_.end()) {
    ++refused_;
    return -EINVAL;
  }
  if (--it->second == 0) mappings_.erase(it);
  --live_;
  bool device_reads = dir != SIDE_DMA_FROM_DEVICE, device_writes = dir != SIDE_DMA_TO_DEVICE;
  for (uint64_t page = phys >> iommu::kPageShift; page <= (phys + size - 1) >> iommu::kPageShift; ++page) {
    PageUse& use = use_of(page);
    PageUse before = use;
    use.reads -= device_reads;
    use.writes -= device_writes;
    update_page(page, before, use);
  }
  return 0;
}

void DmaPermissions::clear() {
  std::lock_guard lock(mu_);
  iommu_.unmap_all();
  mappings_.clear();
  pages_.assign(pages_.size(), PageUse{});
  live_ = 0;
}

void DmaPermissions::retarget(uint8_t* arena_base, uint64_t arena_size) {
  std::lock_guard lock(mu_);
  iommu_.retarget(arena_base, arena_size);
  mappings_.clear();
  pages_.assign(pages_of(base_, arena_size), PageUse{});
  live_ = 0;
  size_ = arena_size;
}

uint64_t DmaPermissions::live_mappings() const {
  std::lock_guard lock(mu_);
  return live_;
}

uint64_t DmaPermissions::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

}  // namespace side::supervisor
