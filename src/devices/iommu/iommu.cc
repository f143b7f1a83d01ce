#include "devices/iommu/iommu.h"

#include <cinttypes>
#include <cstring>

#include "common/log.h"

namespace side::iommu {
namespace {

bool allows(Perm p, Direction d) {
  uint8_t need =
      d == Direction::kDeviceRead ? static_cast<uint8_t>(Perm::kDeviceRead) : static_cast<uint8_t>(Perm::kDeviceWrite);
  return (static_cast<uint8_t>(p) & need) != 0;
}

}  // namespace

const char* to_string(FaultReason r) {
  switch (r) {
    case FaultReason::kUnmapped:
      return "unmapped";
    case FaultReason::kPermission:
      return "permission";
    case FaultReason::kOverflow:
      return "overflow";
  }
  return "?";
}

const char* to_string(Direction d) {
  return d == Direction::kDeviceRead ? "device-read" : "device-write";
}

Iommu::Iommu(uint8_t* arena_base, size_t arena_size, size_t fault_log_capacity)
    : base_(arena_base),
      size_(arena_size & ~static_cast<size_t>(kPageMask)),
      fault_capacity_(fault_log_capacity ? fault_log_capacity : 1) {}

Status Iommu::map(uint64_t iova, uint64_t arena_offset, uint64_t length, Perm perm) {
  std::lock_guard lock(mu_);
  ++counters_.map_calls;
  auto reject = [&](const char* why) -> Status {
    ++counters_.rejected_maps;
    return make_error(std::string("iommu map: ") + why);
  };
  if (length == 0) return reject("zero length");
  if ((iova | arena_offset | length) & kPageMask) return reject("iova, arena offset and length must be page aligned");
  if (perm == Perm::kNone || static_cast<uint8_t>(perm) > 3) return reject("no permission given");
  if (iova + length < iova) return reject("iova range overflows");
  if (arena_offset > size_ || length > size_ - arena_offset) return reject("arena range outside the arena");
  // Overlap: the nearest mapping starting at or below the end must end at or before iova.
  auto it = mappings_.lower_bound(iova + length);
  if (it != mappings_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.length > iova) return reject("iova range overlaps an existing mapping");
  }
  uint64_t npages = length >> kPageShift;
  for (uint64_t i = 0; i < npages; ++i) {
    pages_[(iova >> kPageShift) + i] = PageEntry{(arena_offset >> kPageShift) + i, perm};
  }
  mappings_.emplace(iova, Mapping{length, arena_offset, perm});
  return {};
}

// The mappings tiling [iova, iova + length) exactly, as [first, last); the reason if they do not (mu_ held).
Result<std::pair<Iommu::MappingIt, Iommu::MappingIt>> Iommu::tiling_locked(uint64_t iova, uint64_t length) {
  if (length == 0) return make_error("zero length");
  if ((iova | length) & kPageMask) return make_error("iova and length must be page aligned");
  if (iova + length < iova) return make_error("iova range overflows");
  const uint64_t end = iova + length;
  uint64_t cursor = iova;
  auto it = mappings_.find(iova);
  if (it == mappings_.end()) return make_error("no mapping starts at iova");
  auto first = it;
  while (cursor < end) {
    if (it == mappings_.end() || it->first != cursor) return make_error("range has a hole");
    cursor += it->second.length;
    ++it;
  }
  if (cursor != end) return make_error("range ends inside a mapping");
  return std::make_pair(first, it);
}

Status Iommu::unmap(uint64_t iova, uint64_t length) {
  std::lock_guard lock(mu_);
  ++counters_.unmap_calls;
  auto range = tiling_locked(iova, length);
  if (!range) {
    ++counters_.rejected_maps;
    return make_error("iommu unmap: " + range.error().message);
  }
  for (auto m = range->first; m != range->second;) {
    uint64_t p0 = m->first >> kPageShift, n = m->second.length >> kPageShift;
    for (uint64_t i = 0; i < n; ++i) {
      pages_.erase(p0 + i);
      // Invalidate exactly the IOTLB slot that may cache this page.
      IotlbEntry& e = iotlb_[(p0 + i) % kIotlbEntries];
      if (e.iova_page == p0 + i) e = IotlbEntry{};
    }
    m = mappings_.erase(m);
  }
  return {};
}

Status Iommu::protect(uint64_t iova, uint64_t length, Perm perm) {
  std::lock_guard lock(mu_);
  ++counters_.map_calls;
  auto range = perm == Perm::kNone || static_cast<uint8_t>(perm) > 3
                   ? Result<std::pair<MappingIt, MappingIt>>(make_error("no permission given"))
                   : tiling_locked(iova, length);
  if (!range) {
    ++counters_.rejected_maps;
    return make_error("iommu protect: " + range.error().message);
  }
  for (auto m = range->first; m != range->second; ++m) {
    m->second.perm = perm;
    uint64_t p0 = m->first >> kPageShift, n = m->second.length >> kPageShift;
    for (uint64_t i = 0; i < n; ++i) {
      pages_[p0 + i].perm = perm;
      IotlbEntry& e = iotlb_[(p0 + i) % kIotlbEntries];
      if (e.iova_page == p0 + i) e = IotlbEntry{};
    }
  }
  return {};
}

void Iommu::unmap_all() {
  std::lock_guard lock(mu_);
  pages_.clear();
  mappings_.clear();
  iotlb_.fill(IotlbEntry{});
}

void Iommu::retarget(uint8_t* arena_base, size_t arena_size) {
  std::lock_guard lock(mu_);
  pages_.clear();
  mappings_.clear();
  iotlb_.fill(IotlbEntry{});
  base_ = arena_base;
  size_ = arena_size & ~static_cast<size_t>(kPageMask);
}

uint8_t* Iommu::lookup_locked(uint64_t iova_page, Direction dir, FaultReason* why) {
  IotlbEntry& e = iotlb_[iova_page % kIotlbEntries];
  if (e.iova_page == iova_page) {
    ++counters_.iotlb_hits;
  } else {
    ++counters_.iotlb_misses;
    auto it = pages_.find(iova_page);
    if (it == pages_.end()) {
      *why = FaultReason::kUnmapped;
      return nullptr;
    }
    e = IotlbEntry{iova_page, base_ + (it->second.arena_page << kPageShift), it->second.perm};
  }
  if (!allows(e.perm, dir)) {
    *why = FaultReason::kPermission;
    return nullptr;
  }
  return e.host;
}

void Iommu::record_fault_locked(uint64_t iova, uint64_t len, uint64_t page, Direction dir, FaultReason why) {
  ++counters_.faults;
  switch (why) {
    case FaultReason::kUnmapped:
      ++counters_.faults_unmapped;
      break;
    case FaultReason::kPermission:
      ++counters_.faults_permission;
      break;
    case FaultReason::kOverflow:
      ++counters_.faults_overflow;
      break;
  }
  if (faults_.size() >= fault_capacity_) faults_.pop_front();
  faults_.push_back(Fault{iova, len, page, dir, why, counters_.faults});
  if (fault_hook_) fault_hook_(faults_.back());
  // Rate-limit the log: the counters and the fault log carry the full story.
  if (counters_.faults <= 16 || (counters_.faults & 1023) == 0) {
    logf(LogLevel::kWarning,
         "side: iommu: fault #%" PRIu64 ": %s of %" PRIu64 " bytes at iova 0x%" PRIx64 " (page 0x%" PRIx64 "): %s",
         counters_.faults, to_string(dir), len, iova, page, to_string(why));
  }
}

Status Iommu::check_locked(uint64_t iova, size_t len, Direction dir) {
  if (len == 0) return {};
  if (iova + len - 1 < iova) {
    record_fault_locked(iova, len, iova & ~kPageMask, dir, FaultReason::kOverflow);
    return make_error("iommu fault: dma range overflows");
  }
  uint64_t first = iova >> kPageShift, last = (iova + len - 1) >> kPageShift;
  for (uint64_t p = first;; ++p) {
    FaultReason why;
    if (!lookup_locked(p, dir, &why)) {
      record_fault_locked(iova, len, p << kPageShift, dir, why);
      return make_error(std::string("iommu fault: ") + to_string(why));
    }
    if (p == last) break;
  }
  return {};
}

Status Iommu::dma_read(uint64_t iova, void* dst, size_t len) {
  std::lock_guard lock(mu_);
  return read_locked(iova, dst, len);
}

Status Iommu::read_locked(uint64_t iova, void* dst, size_t len) {
  SIDE_TRY(check_locked(iova, len, Direction::kDeviceRead));
  auto* out = static_cast<uint8_t*>(dst);
  size_t done = 0;
  while (done < len) {
    uint64_t a = iova + done;
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(kPageSize - (a & kPageMask), len - done));
    FaultReason why;
    uint8_t* host = lookup_locked(a >> kPageShift, Direction::kDeviceRead, &why);  // checked above
    std::memcpy(out + done, host + (a & kPageMask), chunk);
    done += chunk;
  }
  ++counters_.dma_reads;
  counters_.bytes_read += len;
  return {};
}

Status Iommu::dma_write(uint64_t iova, const void* src, size_t len) {
  std::lock_guard lock(mu_);
  return write_locked(iova, src, len);
}

Status Iommu::write_locked(uint64_t iova, const void* src, size_t len) {
  SIDE_TRY(check_locked(iova, len, Direction::kDeviceWrite));
  const auto* in = static_cast<const uint8_t*>(src);
  size_t done = 0;
  while (done < len) {
    uint64_t a = iova + done;
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(kPageSize - (a & kPageMask), len - done));
    FaultReason why;
    uint8_t* host = lookup_locked(a >> kPageShift, Direction::kDeviceWrite, &why);
    std::memcpy(host + (a & kPageMask), in + done, chunk);
    done += chunk;
  }
  ++counters_.dma_writes;
  counters_.bytes_written += len;
  return {};
}

Status Iommu::probe(uint64_t iova, size_t len, Direction dir) {
  std::lock_guard lock(mu_);
  return check_locked(iova, len, dir);
}

size_t Iommu::mapping_count() const {
  std::lock_guard lock(mu_);
  return mappings_.size();
}

size_t Iommu::mapped_pages() const {
  std::lock_guard lock(mu_);
  return pages_.size();
}

Counters Iommu::counters() const {
  std::lock_guard lock(mu_);
  return counters_;
}

std::vector<Fault> Iommu::recent_faults() const {
  std::lock_guard lock(mu_);
  return {faults_.begin(), faults_.end()};
}

Result<uint64_t> Iommu::translate(uint64_t iova, Direction dir) const {
  std::lock_guard lock(mu_);
  auto it = pages_.find(iova >> kPageShift);
  if (it == pages_.end()) return make_error("unmapped");
  if (!allows(it->second.perm, dir)) return make_error("permission");
  return (it->second.arena_page << kPageShift) | (iova & kPageMask);
}

}  // namespace side::iommu
