// Small helpers on raw frames: the Internet checksum (RFC 1071) used by the checksum offloads, the Ethernet FCS,
// and big-endian field access with bounds left to the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace side::net {

// One's-complement sum of 16-bit big-endian words (odd trailing byte padded with zero), not folded/inverted.
uint32_t csum_add(std::span<const uint8_t> data, uint32_t sum = 0);
// Folds to 16 bits and inverts: the value to store in a checksum field.
uint16_t csum_finish(uint32_t sum);
// IEEE 802.3 CRC-32 (the FCS as transmitted, least significant byte first).
uint32_t crc32_ieee(std::span<const uint8_t> data);

inline uint16_t load_be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
inline uint16_t load_le16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
inline uint64_t load_le64(const uint8_t* p) {
  return load_le32(p) | (uint64_t{load_le32(p + 4)} << 32);
}
inline void store_le16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void store_le64(uint8_t* p, uint64_t v) {
  store_le32(p, static_cast<uint32_t>(v));
  store_le32(p + 4, static_cast<uint32_t>(v >> 32));
}

}  // namespace side::net
