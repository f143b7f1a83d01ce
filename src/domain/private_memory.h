// Memory private to a driver domain: module images below 2 GiB, trap slots of missing symbols, and vmalloc.
// None of it is ever shared with the supervisor.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"

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
  // Writes into a module image whatever its protection (read-only text included), through a second, writable
  // mapping of the same memory that only the domain runtime knows: runtime code patching (fault injection, and
  // rewriting trapping instructions) works without ever making an executable page writable.
  Status patch_image(uint64_t addr, const void* bytes, uint64_t len);

  // The trap address standing for a missing symbol (the same name always gets the same slot).
  Result<uint64_t> missing_symbol_address(const std::string& name);
  // The missing symbol whose slot contains addr, or "".
  std::string missing_symbol_at(uint64_t addr) const;

  void* vmalloc(uint64_t size);
  bool vfree(const void* p);  // false if p is not a live vmalloc allocation
  bool is_vmalloc(const void* p) const;
  uint64_t vmalloc_bytes() const;
  size_t vmalloc_count() const;

 private:
  bool reserved_ = false;
  int image_fd_ = -1;
  uint8_t* image_alias_ = nullptr;
  uint64_t image_next_ = 0;
  std::vector<std::string> missing_;
  mutable std::mutex mutex_;
  std::map<uint64_t, uint64_t> vmalloc_;  // address -> mapped size
  uint64_t vmalloc_bytes_ = 0;
};

}  // namespace side::domain
