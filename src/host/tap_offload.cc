#include "host/tap_offload.h"

#include <linux/if_tun.h>

namespace side::host {

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
      if (!o.flags || h.gso_size == 0) return std::nullopt;
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
