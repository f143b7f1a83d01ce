// Reads a fuzz input as a little program: fixed-width little-endian operands, missing bytes read as zero, so every
// input, however short, is a valid program and libFuzzer's mutations stay meaningful.
#pragma once

#include <cstddef>
#include <cstdint>

namespace side::fuzz {

struct Input {
  const uint8_t* p;
  size_t n;

  bool done() const { return n == 0; }
  uint8_t u8() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return u16() | (static_cast<uint32_t>(u16()) << 16); }
  uint64_t u64() { return u32() | (static_cast<uint64_t>(u32()) << 32); }
  void bytes(uint8_t* out, size_t len) {
    for (size_t i = 0; i < len; ++i) out[i] = u8();
  }
};

}  // namespace side::fuzz
