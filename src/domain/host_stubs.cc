#include "domain/host_stubs.h"

#include <sys/mman.h>

#include <cstring>

#include "domain/host_services.h"
#include "domain/private_memory.h"

namespace side::domain {

Status HostStubs::build(PrivateMemory& memory) {
  const auto& services = host_services();
  auto base = memory.allocate_image(services.size() * kStubSize);
  if (!base) return make_error("host service stubs: " + base.error().message);
  uint64_t at = *base;
  for (const auto& [name, target] : services) {
    // ff 25 00 00 00 00: jmp *0(%rip), the absolute address right behind it; int3 padding.
    uint8_t stub[kStubSize] = {0xff, 0x25, 0, 0, 0, 0};
    std::memcpy(stub + 6, &target, sizeof target);
    stub[14] = stub[15] = 0xcc;
    std::memcpy(reinterpret_cast<void*>(at), stub, sizeof stub);
    stubs_[name] = at;
    at += kStubSize;
  }
  return memory.protect(*base, services.size() * kStubSize, PROT_READ | PROT_EXEC);
}

std::optional<uint64_t> HostStubs::address(const std::string& name) const {
  auto it = stubs_.find(name);
  if (it == stubs_.end()) return std::nullopt;
  return it->second;
}

}  // namespace side::domain
