// The side_host_* functions (kapi/side_host.h) that the kernel-API layer imports, by name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace side::domain {

// Address of the host service called `name`, for resolving the kernel-API layer's imports; nullopt otherwise.
std::optional<uint64_t> host_service_address(const std::string& name);

}  // namespace side::domain
