#include "emulation/decode_cache.h"

#include <algorithm>

namespace side::emulation {

size_t DecodeCache::slot(uint64_t rip) {
  // Fibonacci hashing: trap sites are often a few bytes apart, which a plain modulo would also spread, but distant
  // modules can alias on low bits; mixing keeps both cases cheap.
  return static_cast<size_t>((rip * 0x9e3779b97f4a7c15ull) >> 56) % kEntries;
}

Result<Access> DecodeCache::decode(std::span<const uint8_t> code, uint64_t rip) {
  Entry& e = entries_[slot(rip)];
  if (e.valid && e.rip == rip && code.size() >= e.access.length &&
      std::equal(e.bytes.begin(), e.bytes.begin() + e.access.length, code.begin())) {
    ++hits_;
    return e.access;
  }
  ++misses_;
  Result<Access> r = decode_access(code, rip);
  if (r.ok() && r->length <= kMaxInstructionLength && r->length <= code.size()) {
    e.valid = true;
    e.rip = rip;
    std::copy_n(code.begin(), r->length, e.bytes.begin());
    e.access = *r;
  }
  return r;
}

void DecodeCache::invalidate(uint64_t rip) {
  Entry& e = entries_[slot(rip)];
  if (e.rip == rip) e.valid = false;
}

void DecodeCache::clear() {
  for (Entry& e : entries_) e.valid = false;
}

}  // namespace side::emulation
