// The offloads between a driver's net_device and its host TAP (IFF_VNET_HDR): which ones the host's stack may hand
// over, given the features the driver's device has (TUNSETOFFLOAD), and the translation of each frame's
// virtio-net header into what the kernel-API layer builds the skb from (side_tx_offload), and back for received
// frames. As a virtio-net device and its host do (include/linux/virtio_net.h), with the device being the driver's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "ipc/wire.h"
#include "net/tap.h"

namespace side::host {

// NETIF_F_* bits (include/linux/netdev_features.h) side reads from side_netdev_info::features.
inline constexpr uint64_t kFeatureSg = 1ull << 0, kFeatureIpCsum = 1ull << 1, kFeatureHwCsum = 1ull << 3,
                          kFeatureIpv6Csum = 1ull << 4, kFeatureTso = 1ull << 16, kFeatureTso6 = 1ull << 19;

// The TUN_F_* offloads the host may hand a device with `features`: checksums if it inserts any (what it cannot,
// the kernel-API layer computes), TCP segmentation of IPv4/IPv6 if it has TSO/TSO6 with scatter-gather and the
// checksum they need (as netdev_fix_features requires). Never TUN_F_TSO_ECN or UFO: the e1000 has neither, and the
// host segments those itself.
unsigned tun_offload_for(uint64_t features);

// The offload a frame of `len` bytes (after its header) asks for, or nullopt when it is malformed or one side
// cannot pass (UDP fragmentation, ECN): such a frame is dropped and counted. A checksum the host already found
// valid (VIRTIO_NET_HDR_F_DATA_VALID) needs nothing. Malformed, as the kernel has it: unknown flags or GSO types,
// a checksum beyond the frame, a segmentation without the TCP checksum at csum_start + 16, without the TCP header
// in the frame, with headers (hdr_len) longer than the frame, with a segment size of 0 or GSO_BY_FRAGS, or with
// more segments than an skb counts (GSO_MAX_SEGS). What is accepted is the header's request unchanged.
std::optional<side_tx_offload> tx_offload_from(const net::VnetHeader& h, size_t len);

// The header of a frame the driver received: its checksum valid when the driver said so (CHECKSUM_UNNECESSARY,
// ip_summed 1), no segmentation.
net::VnetHeader rx_vnet_header(uint32_t ip_summed);

}  // namespace side::host
