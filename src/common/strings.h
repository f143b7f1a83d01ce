// Small string helpers shared by the loader and the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace side {

// Kernel module names treat '-' and '_' as the same character (modprobe does); this maps both to '_'.
std::string normalize_module_name(std::string_view name);

std::string hex(uint64_t value);

// The pieces of `s` between `separator`s; empty pieces are dropped ("a,,b" gives a and b).
std::vector<std::string> split(std::string_view s, char separator);

}  // namespace side
