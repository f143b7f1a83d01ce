// Where each instruction of a translated section went: original offset -> translated offset at every instruction
// boundary (branch targets, function pointers, tables that point into code), and back (a fault inside translated
// code, including inside an inserted check, is reported at the original instruction it belongs to).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace side::sfi {

class CodeMap {
 public:
  // Boundaries are added in increasing order of both offsets; the last one is the end of the section.
  void add(uint64_t original, uint64_t translated);
  // The translated offset of an original instruction boundary (or of the section's end); nullopt for an offset
  // inside an instruction or outside the section.
  std::optional<uint64_t> to_translated(uint64_t original) const;
  // The original offset of the instruction whose translation (its checks included) holds `translated`; nullopt
  // past the last instruction (the literal pool).
  std::optional<uint64_t> to_original(uint64_t translated) const;
  size_t boundaries() const { return entries_.size(); }
  const std::vector<std::pair<uint64_t, uint64_t>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> entries_;  // (original, translated), both increasing
};

}  // namespace side::sfi
