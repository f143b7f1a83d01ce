// A small cache of decoded trap sites. A driver touches its registers from a handful of instructions, over and over;
// decoding each once is cheaper, and the cache is also where a later optimisation can find hot sites to rewrite.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "common/result.h"
#include "emulation/access.h"

namespace side::emulation {

// Direct-mapped, fixed size and allocation-free on hits and successful misses, so it can be used from a signal
// handler. An entry is keyed by RIP *and* the instruction bytes: a lookup hits only when the bytes offered start with
// exactly the bytes the entry was decoded from, so code that changed at an address (module unloaded and another
// loaded there, a rewritten site) is decoded afresh without explicit invalidation. Failures are not cached.
// Not thread-safe: use one per virtual CPU or lock around it.
class DecodeCache {
 public:
  static constexpr size_t kEntries = 256;

  // decode_access(code, rip), through the cache.
  Result<Access> decode(std::span<const uint8_t> code, uint64_t rip);
  // Drops the entry for `rip`, if any (e.g. after rewriting the instruction there).
  void invalidate(uint64_t rip);
  void clear();

  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    bool valid = false;
    uint64_t rip = 0;
    std::array<uint8_t, kMaxInstructionLength> bytes{};
    Access access;
  };
  static size_t slot(uint64_t rip);

  std::array<Entry, kEntries> entries_{};
  uint64_t hits_ = 0;
  uint64_t misses_ = 0;
};

}  // namespace side::emulation
