// Memory private to a driver domain: module images below 2 GiB, trap slots of missing symbols, and vmalloc.
// None of it is ever shared with the supervisor.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "domain/layout.h"

namespace side::domain {

class PrivateMemory {
 public:
  PrivateMemory();
  ~PrivateMemory();
  PrivateMemory(const PrivateMemory&) = delete;
  PrivateMemory& operator=(const PrivateMemory&) = delete;

  // Reserves the fixed regions. Fails if another domain in this process still holds them.
  Status reserve();

  // A zeroed, writable, page-aligned block in the image region.
  Result<uint64_t> allocate_image(uint64_t size);
  Status protect(uint64_t addr, uint64_t size, int prot);
  // Writes into a module image whatever its protection (read-only text included): runtime code patching (fault
  // injection, and rewriting trapping instructions). There is no writable alias of the images: each page the
  // patch touches is flipped read+execute -> read+write, written and flipped back, so no page is ever writable
  // and executable at once. Another vCPU that fetches an instruction from such a page meanwhile takes an execute
  // fault, which retried_fetch() recognises. Async-signal-safe (patches are written from trap handlers).
  Status patch_image(uint64_t addr, const void* bytes, uint64_t len);
  // The same, with `write(context, bytes)` writing the `len` bytes at `addr` while their pages are writable (and not
  // executable): several dependent writes for one pair of protection changes. Async-signal-safe if `write` is.
  Status patch_image_with(uint64_t addr, uint64_t len, void (*write)(void* context, uint8_t* bytes), void* context);
  // From a SIGSEGV handler, for an instruction fetch at `addr` that faulted: if the page is meant to be
  // executable, a patch may have it flipped writable for a moment. Waits (bounded) for any patch to end and
  // returns the patch sequence number then (a fetch that faults again with the same number was not disturbed by
  // a patch: the driver changed the protection itself). nullopt if the page is not meant to be executable.
  std::optional<uint64_t> wait_for_patch(uint64_t addr) const;

  // The protection an image page is meant to have (PROT_* bits; 0 outside the images).
  int page_protection(uint64_t addr) const {
    if (addr < kImageBase || addr >= kImageLimit) return 0;
    return page_prot_[(addr - kImageBase) / kPageSize].load(std::memory_order_acquire);
  }

  // The trap address standing for a missing symbol (the same name always gets the same slot).
  Result<uint64_t> missing_symbol_address(const std::string& name);
  // The missing symbol whose slot contains addr, or "".
  std::string missing_symbol_at(uint64_t addr) const;

  // vmalloc's blocks go inside [base, limit) (the sfi window) instead of anywhere. Before the first vmalloc.
  void set_vmalloc_region(uint64_t base, uint64_t limit) {
    vmalloc_base_ = base;
    vmalloc_limit_ = limit;
  }
  void* vmalloc(uint64_t size);
  uint64_t vmalloc_size(const void* p) const;  // the mapped size of a live block, or 0
  bool vfree(const void* p);                   // false if p is not a live vmalloc allocation
  bool is_vmalloc(const void* p) const;
  uint64_t vmalloc_bytes() const;
  size_t vmalloc_count() const;

 private:
  static constexpr uint64_t kImagePages = (kImageLimit - kImageBase) / kPageSize;
  bool page_executable(uint64_t addr) const;

  bool reserved_ = false;
  uint64_t image_next_ = 0;
  // The protection each image page is meant to have (PROT_* bits), what patch_image() restores.
  std::unique_ptr<std::atomic<uint8_t>[]> page_prot_;
  mutable std::atomic_flag patching_ = ATOMIC_FLAG_INIT;  // one patch at a time, whatever the thread
  std::atomic<uint64_t> patch_seq_{0};                    // odd while a page is flipped writable
  std::vector<std::string> missing_;
  mutable std::mutex mutex_;
  std::map<uint64_t, uint64_t> vmalloc_;  // address -> mapped size
  uint64_t vmalloc_bytes_ = 0;
  uint64_t vmalloc_base_ = 0, vmalloc_limit_ = 0;  // 0: anywhere
};

}  // namespace side::domain
