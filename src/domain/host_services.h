// The side_host_* functions (kapi/side_host.h) that the kernel-API layer imports, by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace side::domain {

// Address of the host service called `name` (in side's own image, anywhere in the address space); nullopt
// otherwise. The kernel-API layer reaches these through stubs below 2 GiB (host_stubs.h).
std::optional<uint64_t> host_service_address(const std::string& name);
// Every host service, by name.
const std::unordered_map<std::string, uint64_t>& host_services();

}  // namespace side::domain
