#include "devices/net/net_util.h"

#include <zlib.h>

#include <algorithm>
#include <array>

#include "devices/net/frame_view.h"

namespace side::net {

uint32_t csum_add(std::span<const uint8_t> data, uint32_t sum) {
  uint64_t s = sum;
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) s += (uint32_t{data[i]} << 8) | data[i + 1];
  if (i < data.size()) s += uint32_t{data[i]} << 8;
  while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
  return static_cast<uint32_t>(s);
}

uint16_t csum_finish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// zlib's CRC-32 is the IEEE 802.3 one (reflected 0x04C11DB7, initial and final inversion), computed several bytes
// at a time: the FCS of every received frame is on the receive path.
uint32_t crc32_ieee(std::span<const uint8_t> data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

void put_internet_checksum(FrameView& frame, size_t sloc, size_t css, size_t cse) {
  size_t end = frame.size();
  if (cse != 0 && cse + 1 < end) end = cse + 1;
  // An empty range is as wrong as one outside the frame: the driver's offsets do not describe this frame.
  if (css >= end) return frame.reject();
  std::span<const uint8_t> covered = frame.bytes(css, end - css);
  uint16_t sum = csum_finish(csum_add(covered));
  // A computed 0 is sent as 0xFFFF (equivalent in one's complement; required for UDP where 0 means "none").
  frame.put_be16(sloc, sum ? sum : 0xffff);
}

}  // namespace side::net
