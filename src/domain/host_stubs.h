// Jump stubs below 2 GiB for the host services (host_services.h).
//
// The kernel-API layer is kernel-compiled code (-mcmodel=kernel): its calls are 32-bit PC-relative and reach only
// ±2 GiB around its image. side itself is a position-independent executable, loaded anywhere in the address
// space (ASLR), so the layer cannot call its host services directly. Each service gets a 16-byte stub in the
// domain's image region, `jmp *0(%rip)` followed by the service's 64-bit address, and the layer's imports are
// resolved to the stubs. The stub page is written once, then read+execute for good.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/result.h"

namespace side::domain {

class PrivateMemory;

class HostStubs {
 public:
  static constexpr uint64_t kStubSize = 16;

  // Lays out one stub per host service in `memory`'s image region (normal context, before the sandbox).
  Status build(PrivateMemory& memory);
  // The stub standing for the host service `name`; nullopt if there is no such service.
  std::optional<uint64_t> address(const std::string& name) const;

 private:
  std::unordered_map<std::string, uint64_t> stubs_;
};

}  // namespace side::domain
