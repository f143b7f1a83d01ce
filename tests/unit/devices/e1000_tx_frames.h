// Frames the TX tests hand to the model: Ethernet + IPv4 + TCP as Linux's e1000 driver prepares them for checksum
// offload and TSO, and the checks that a transmitted frame's checksums are right.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "devices/net/net_util.h"

namespace side::e1000::test {
using namespace side::net;

// Builds Ethernet + IPv4 + TCP (no options) with `payload` bytes; TCP checksum field left as given.
inline std::vector<uint8_t> ipv4_tcp(size_t payload, uint16_t ip_total, uint16_t tcp_check) {
  std::vector<uint8_t> f(54 + payload);
  const uint8_t hdr[14] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x08, 0x00};
  std::copy(hdr, hdr + 14, f.begin());
  uint8_t* ip = f.data() + 14;
  ip[0] = 0x45;
  store_be16(ip + 2, ip_total);
  store_be16(ip + 4, 0x1000);  // id
  ip[8] = 64;
  ip[9] = 6;
  const uint8_t addrs[8] = {10, 0, 0, 1, 10, 0, 0, 2};
  std::copy(addrs, addrs + 8, ip + 12);
  uint8_t* tcp = ip + 20;
  store_be16(tcp, 12345);
  store_be16(tcp + 2, 80);
  store_be32(tcp + 4, 0x01000000);  // seq
  tcp[12] = 0x50;
  tcp[13] = 0x18 | 0x01;  // ACK PSH FIN
  store_be16(tcp + 14, 65535);
  store_be16(tcp + 16, tcp_check);
  for (size_t i = 0; i < payload; ++i) f[54 + i] = static_cast<uint8_t>(i * 13 + 1);
  return f;
}

// Folded, non-inverted pseudo-header sum as Linux leaves it for CHECKSUM_PARTIAL / TSO.
inline uint16_t pseudo_sum(const uint8_t* ip, uint16_t l4len) {
  uint8_t ph[12];
  std::copy(ip + 12, ip + 20, ph);
  ph[8] = 0;
  ph[9] = ip[9];
  store_be16(ph + 10, l4len);
  uint32_t s = csum_add(ph);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// Verifies IPv4 header and TCP checksums of a complete frame (both must sum to 0).
inline void expect_valid_ipv4_tcp(const std::vector<uint8_t>& f) {
  ASSERT_GE(f.size(), 54u);
  const uint8_t* ip = f.data() + 14;
  uint16_t total = load_be16(ip + 2);
  ASSERT_EQ(size_t{total} + 14, f.size());
  EXPECT_EQ(csum_finish(csum_add(std::span<const uint8_t>(ip, 20))), 0) << "IP header checksum";
  uint16_t l4 = static_cast<uint16_t>(total - 20);
  uint8_t ph[12];
  std::copy(ip + 12, ip + 20, ph);
  ph[8] = 0;
  ph[9] = 6;
  store_be16(ph + 10, l4);
  uint32_t s = csum_add(ph);
  s = csum_add(std::span<const uint8_t>(ip + 20, l4), s);
  EXPECT_EQ(csum_finish(s), 0) << "TCP checksum";
}

}  // namespace side::e1000::test
