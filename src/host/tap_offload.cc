#include "host/tap_offload.h"

#include <linux/if_tun.h>

namespace side::host {
namespace {

// From the kernel: struct tcphdr's least length and its checksum's place; GSO_BY_FRAGS, a segment size that means
// "by the fragment list" (SCTP's, never TCP's); GSO_MAX_SEGS, the most segments an skb's gso_segs counts.
constexpr size_t kTcpHeader = 20, kTcpChecksumAt = 16, kGsoMaxSegs = 65535;
constexpr uint16_t kGsoByFrags = 0xffff;

// A TCP segmentation the kernel would take from a virtio-net header (virtio_net_hdr_to_skb: the checksum at the
// TCP header's, the header in the frame, a real segment size; tun_get_user: headers no longer than the frame) and
// whose segments an skb can count. The checksum request is checked already.
bool valid_tcp_segmentation(const net::VnetHeader& h, size_t len) {
  if (h.csum_offset != kTcpChecksumAt || size_t{h.csum_start} + kTcpHeader > len || h.hdr_len > len) return false;
  if (h.gso_size == 0 || h.gso_size == kGsoByFrags) return false;
  // The TCP header is at least 20 bytes, so at most this much payload follows it.
  const size_t payload = len - h.csum_start - kTcpHeader;
  return payload / h.gso_size + (payload % h.gso_size != 0) <= kGsoMaxSegs;
}

}  // namespace

unsigned tun_offload_for(uint64_t features) {
  const bool csum4 = features & (kFeatureHwCsum | kFeatureIpCsum);
  const bool csum6 = features & (kFeatureHwCsum | kFeatureIpv6Csum);
  const bool sg = features & kFeatureSg;
  if (!csum4 && !csum6) return 0;
  unsigned flags = TUN_F_CSUM;
  if (sg && csum4 && (features & kFeatureTso)) flags |= TUN_F_TSO4;
  if (sg && csum6 && (features & kFeatureTso6)) flags |= TUN_F_TSO6;
  return flags;
}

std::optional<side_tx_offload> tx_offload_from(const net::VnetHeader& h, size_t len) {
  side_tx_offload o{};
  if (h.flags & ~(net::kVnetNeedsCsum | net::kVnetDataValid)) return std::nullopt;
  if (h.flags & net::kVnetNeedsCsum) {
    if (size_t{h.csum_start} + h.csum_offset + 2 > len) return std::nullopt;
    o.flags = SIDE_TX_NEEDS_CSUM;
    o.csum_start = h.csum_start;
    o.csum_offset = h.csum_offset;
  }
  switch (h.gso_type) {
    case net::kVnetGsoNone:
      return o;
    case net::kVnetGsoTcpv4:
    case net::kVnetGsoTcpv6:
      if (!o.flags || !valid_tcp_segmentation(h, len)) return std::nullopt;
      o.gso_type = h.gso_type == net::kVnetGsoTcpv4 ? SIDE_TX_GSO_TCPV4 : SIDE_TX_GSO_TCPV6;
      o.gso_size = h.gso_size;
      o.hdr_len = h.hdr_len;
      return o;
    default:
      return std::nullopt;
  }
}

net::VnetHeader rx_vnet_header(uint32_t ip_summed) {
  net::VnetHeader h{};
  if (ip_summed == 1) h.flags = net::kVnetDataValid;
  return h;
}

}  // namespace side::host
