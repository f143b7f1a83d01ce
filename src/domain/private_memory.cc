#include "domain/private_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/strings.h"
#include "domain/layout.h"

namespace side::domain {
namespace {

uint64_t round_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

// Names whatever already occupies [base, base+size), from /proc/self/maps, for the error message.
std::string occupant(uint64_t base, uint64_t size) {
  FILE* f = std::fopen("/proc/self/maps", "re");
  if (!f) return "";
  std::string out;
  char line[512];
  while (std::fgets(line, sizeof line, f)) {
    uint64_t lo = 0, hi = 0;
    if (std::sscanf(line, "%" SCNx64 "-%" SCNx64, &lo, &hi) != 2) continue;
    if (lo < base + size && hi > base) {
      out = line;
      if (!out.empty() && out.back() == '\n') out.pop_back();
      break;
    }
  }
  std::fclose(f);
  return out;
}

Status map_fixed(uint64_t base, uint64_t size, int prot) {
  void* p = mmap(reinterpret_cast<void*>(base), size, prot,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    return make_error("cannot reserve domain memory at " + hex(base) + ": " + std::strerror(err) +
                      (err == EEXIST ? " (occupied by: " + occupant(base, size) + ")" : ""));
  }
  if (reinterpret_cast<uint64_t>(p) != base) {
    munmap(p, size);
    return make_error("kernel ignored MAP_FIXED_NOREPLACE for domain memory");
  }
  return {};
}

}  // namespace

PrivateMemory::PrivateMemory() = default;

PrivateMemory::~PrivateMemory() {
  if (reserved_) {
    munmap(reinterpret_cast<void*>(kImageBase), kImageLimit - kImageBase);
    munmap(reinterpret_cast<void*>(kMissingBase), kMissingLimit - kMissingBase);
  }
  if (image_alias_) munmap(image_alias_, kImageLimit - kImageBase);
  if (image_fd_ >= 0) close(image_fd_);
  for (auto& [addr, size] : vmalloc_) munmap(reinterpret_cast<void*>(addr), size);
}

Status PrivateMemory::reserve() {
  // The image region starts inaccessible; allocate_image() opens pages as modules are laid out.
  // The images live in a memfd mapped twice: at the fixed addresses (protections per section) and once writable at
  // a random address (the alias patch_image() writes through).
  const uint64_t image_size = kImageLimit - kImageBase;
  image_fd_ = memfd_create("side-images", MFD_CLOEXEC);
  if (image_fd_ < 0 || ftruncate(image_fd_, static_cast<off_t>(image_size)) != 0) {
    return make_error(std::string("cannot create the image memory: ") + std::strerror(errno));
  }
  void* p = mmap(reinterpret_cast<void*>(kImageBase), image_size, PROT_NONE,
                 MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_NORESERVE, image_fd_, 0);
  if (p == MAP_FAILED || reinterpret_cast<uint64_t>(p) != kImageBase) {
    int err = errno;
    if (p != MAP_FAILED) munmap(p, image_size);
    return make_error("cannot reserve domain memory at " + hex(kImageBase) + ": " + std::strerror(err) +
                      (err == EEXIST ? " (occupied by: " + occupant(kImageBase, image_size) + ")" : ""));
  }
  void* alias = mmap(nullptr, image_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, image_fd_, 0);
  if (alias == MAP_FAILED) {
    munmap(reinterpret_cast<void*>(kImageBase), image_size);
    return make_error("cannot map the image alias");
  }
  image_alias_ = static_cast<uint8_t*>(alias);
  if (auto s = map_fixed(kMissingBase, kMissingLimit - kMissingBase, PROT_NONE); !s) {
    munmap(reinterpret_cast<void*>(kImageBase), kImageLimit - kImageBase);
    return s;
  }
  reserved_ = true;
  image_next_ = kImageBase;
  return {};
}

Result<uint64_t> PrivateMemory::allocate_image(uint64_t size) {
  std::lock_guard lock(mutex_);
  size = round_up(size ? size : 1, kPageSize);
  if (!reserved_ || size > kImageLimit - image_next_) return make_error("module image region exhausted");
  uint64_t addr = image_next_;
  if (mprotect(reinterpret_cast<void*>(addr), size, PROT_READ | PROT_WRITE) != 0) {
    return make_error(std::string("mprotect: ") + std::strerror(errno));
  }
  // A guard page between images catches a driver running off the end of its own image.
  image_next_ += size + kPageSize;
  return addr;
}

Status PrivateMemory::patch_image(uint64_t addr, const void* bytes, uint64_t len) {
  if (!image_alias_ || addr < kImageBase || addr >= image_next_ || len > image_next_ - addr) {
    return make_error("patch outside the module images");
  }
  std::memcpy(image_alias_ + (addr - kImageBase), bytes, len);
  return {};
}

Status PrivateMemory::protect(uint64_t addr, uint64_t size, int prot) {
  if (addr < kImageBase || size > kImageLimit - addr) return make_error("protect outside the image region");
  if (mprotect(reinterpret_cast<void*>(addr), round_up(size, kPageSize), prot) != 0) {
    return make_error(std::string("mprotect: ") + std::strerror(errno));
  }
  return {};
}

Result<uint64_t> PrivateMemory::missing_symbol_address(const std::string& name) {
  std::lock_guard lock(mutex_);
  for (size_t i = 0; i < missing_.size(); ++i) {
    if (missing_[i] == name) return kMissingBase + i * kMissingSlot;
  }
  if (missing_.size() >= (kMissingLimit - kMissingBase) / kMissingSlot) return make_error("too many missing symbols");
  missing_.push_back(name);
  return kMissingBase + (missing_.size() - 1) * kMissingSlot;
}

std::string PrivateMemory::missing_symbol_at(uint64_t addr) const {
  if (addr < kMissingBase || addr >= kMissingLimit) return "";
  std::lock_guard lock(mutex_);
  size_t i = (addr - kMissingBase) / kMissingSlot;
  return i < missing_.size() ? missing_[i] : "";
}

void* PrivateMemory::vmalloc(uint64_t size) {
  uint64_t mapped = round_up(size, kPageSize);
  void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  std::lock_guard lock(mutex_);
  vmalloc_.emplace(reinterpret_cast<uint64_t>(p), mapped);
  vmalloc_bytes_ += mapped;
  return p;
}

bool PrivateMemory::vfree(const void* p) {
  uint64_t size;
  {
    std::lock_guard lock(mutex_);
    auto it = vmalloc_.find(reinterpret_cast<uint64_t>(p));
    if (it == vmalloc_.end()) return false;
    size = it->second;
    vmalloc_bytes_ -= size;
    vmalloc_.erase(it);
  }
  munmap(const_cast<void*>(p), size);
  return true;
}

bool PrivateMemory::is_vmalloc(const void* p) const {
  uint64_t a = reinterpret_cast<uint64_t>(p);
  std::lock_guard lock(mutex_);
  auto it = vmalloc_.upper_bound(a);
  if (it == vmalloc_.begin()) return false;
  --it;
  return a < it->first + it->second;
}

uint64_t PrivateMemory::vmalloc_bytes() const {
  std::lock_guard lock(mutex_);
  return vmalloc_bytes_;
}

size_t PrivateMemory::vmalloc_count() const {
  std::lock_guard lock(mutex_);
  return vmalloc_.size();
}

}  // namespace side::domain
