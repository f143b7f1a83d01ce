#include "domain/private_memory.h"

#include <sched.h>
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

PrivateMemory::PrivateMemory() : page_prot_(new std::atomic<uint8_t>[kImagePages]()) {}

PrivateMemory::~PrivateMemory() {
  if (reserved_) {
    munmap(reinterpret_cast<void*>(kImageBase), kImageLimit - kImageBase);
    munmap(reinterpret_cast<void*>(kMissingBase), kMissingLimit - kMissingBase);
  }
  for (auto& [addr, size] : vmalloc_) munmap(reinterpret_cast<void*>(addr), size);
}

Status PrivateMemory::reserve() {
  // The image region starts inaccessible; allocate_image() opens pages as modules are laid out. Private
  // anonymous memory, mapped once: nothing else in the process can write the images.
  SIDE_TRY(map_fixed(kImageBase, kImageLimit - kImageBase, PROT_NONE));
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
  for (uint64_t page = addr; page < addr + size; page += kPageSize) {
    page_prot_[(page - kImageBase) / kPageSize].store(PROT_READ | PROT_WRITE, std::memory_order_release);
  }
  // A guard page between images catches a driver running off the end of its own image.
  image_next_ += size + kPageSize;
  return addr;
}

bool PrivateMemory::page_executable(uint64_t addr) const {
  if (addr < kImageBase || addr >= kImageLimit) return false;
  return page_prot_[(addr - kImageBase) / kPageSize].load(std::memory_order_acquire) & PROT_EXEC;
}

Status PrivateMemory::patch_image(uint64_t addr, const void* bytes, uint64_t len) {
  struct Copy {
    const void* bytes;
    uint64_t len;
  } copy{bytes, len};
  return patch_image_with(
      addr, len,
      [](void* c, uint8_t* at) {
        auto* cp = static_cast<Copy*>(c);
        std::memcpy(at, cp->bytes, cp->len);
      },
      &copy);
}

Status PrivateMemory::patch_image_with(uint64_t addr, uint64_t len, void (*write)(void* context, uint8_t* bytes),
                                       void* context) {
  if (!reserved_ || addr < kImageBase || addr >= image_next_ || len > image_next_ - addr) {
    return make_error("patch outside the module images");
  }
  // Bounded: a patch is a few system calls; whoever holds the flag is never waiting for us.
  for (int spins = 0; patching_.test_and_set(std::memory_order_acquire); ++spins) {
    if (spins > 1'000'000) return make_error("code patching is stuck");
    sched_yield();
  }
  const uint64_t first = addr & ~(kPageSize - 1), end = round_up(addr + len, kPageSize);
  const int prot = page_prot_[(first - kImageBase) / kPageSize].load();
  bool ok = true;
  for (uint64_t page = first; page < end && ok; page += kPageSize) {
    ok = page_prot_[(page - kImageBase) / kPageSize].load() == prot;  // one protection across the range
  }
  const bool flip = ok && !(prot & PROT_WRITE);
  if (flip) {
    patch_seq_.fetch_add(1, std::memory_order_acq_rel);  // odd: the pages are (about to be) not executable
    ok = mprotect(reinterpret_cast<void*>(first), end - first, PROT_READ | PROT_WRITE) == 0;
  }
  if (ok) write(context, reinterpret_cast<uint8_t*>(addr));
  if (flip) {
    // Back to what the pages are meant to be (never writable and executable at once).
    if (mprotect(reinterpret_cast<void*>(first), end - first, prot) != 0) ok = false;
    patch_seq_.fetch_add(1, std::memory_order_acq_rel);
  }
  patching_.clear(std::memory_order_release);
  return ok ? Status{} : make_error("cannot patch the module image");
}

std::optional<uint64_t> PrivateMemory::wait_for_patch(uint64_t addr) const {
  if (!page_executable(addr)) return std::nullopt;
  // A patch holds its pages for a few microseconds; a million yields is far beyond that, and still bounded.
  for (int spins = 0; (patch_seq_.load(std::memory_order_acquire) & 1) && spins < 1'000'000; ++spins) sched_yield();
  return patch_seq_.load(std::memory_order_acquire);
}

Status PrivateMemory::protect(uint64_t addr, uint64_t size, int prot) {
  if (addr < kImageBase || addr % kPageSize || size > kImageLimit - addr) {
    return make_error("protect outside the image region");
  }
  if ((prot & PROT_WRITE) && (prot & PROT_EXEC)) return make_error("no image page is writable and executable");
  size = round_up(size, kPageSize);
  if (mprotect(reinterpret_cast<void*>(addr), size, prot) != 0) {
    return make_error(std::string("mprotect: ") + std::strerror(errno));
  }
  for (uint64_t page = addr; page < addr + size; page += kPageSize) {
    page_prot_[(page - kImageBase) / kPageSize].store(static_cast<uint8_t>(prot), std::memory_order_release);
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
  if (mapped == 0 || mapped < size) return nullptr;
  std::lock_guard lock(mutex_);
  void* hint = nullptr;
  int fixed = 0;
  if (vmalloc_limit_) {
    // Inside the sfi window: the first gap (with a guard page after each block) that fits.
    uint64_t at = vmalloc_base_;
    for (const auto& [addr, length] : vmalloc_) {
      if (addr >= at && addr - at >= mapped + kPageSize) break;
      at = std::max(at, addr + length + kPageSize);
    }
    if (at > vmalloc_limit_ || vmalloc_limit_ - at < mapped) return nullptr;
    hint = reinterpret_cast<void*>(at);
    fixed = MAP_FIXED_NOREPLACE;
  }
  void* p = mmap(hint, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  vmalloc_.emplace(reinterpret_cast<uint64_t>(p), mapped);
  vmalloc_bytes_ += mapped;
  return p;
}

uint64_t PrivateMemory::vmalloc_size(const void* p) const {
  std::lock_guard lock(mutex_);
  auto it = vmalloc_.find(reinterpret_cast<uint64_t>(p));
  return it == vmalloc_.end() ? 0 : it->second;
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
