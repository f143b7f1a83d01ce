#include "sfi/code_map.h"

#include <algorithm>

namespace side::sfi {

void CodeMap::add(uint64_t original, uint64_t translated) {
  entries_.emplace_back(original, translated);
}

std::optional<uint64_t> CodeMap::to_translated(uint64_t original) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), original,
                             [](const auto& e, uint64_t o) { return e.first < o; });
  if (it == entries_.end() || it->first != original) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> CodeMap::to_original(uint64_t translated) const {
  auto it = std::upper_bound(entries_.begin(), entries_.end(), translated,
                             [](uint64_t t, const auto& e) { return t < e.second; });
  // The last entry is the end of the section: nothing lies at or after it but the literal pool.
  if (it == entries_.begin() || it == entries_.end()) return std::nullopt;
  return std::prev(it)->first;
}

}  // namespace side::sfi
