// The offloads between a driver's features and its host TAP: what the host's stack is allowed to hand over, and
// how each frame's virtio-net header becomes what the transmit message carries (or a counted drop).
#include "host/tap_offload.h"

#include <gtest/gtest.h>
#include <linux/if_tun.h>

#include "ipc/messages.h"

namespace side::host {
namespace {

// e1000 on an 82540EM as Debian's driver sets it up: scatter-gather, generic checksum, TCPv4 segmentation.
constexpr uint64_t kE1000 = kFeatureSg | kFeatureHwCsum | kFeatureTso;

TEST(TapOffload, TheHostMayHandOverWhatTheDriversFeaturesAllow) {
  EXPECT_EQ(tun_offload_for(kE1000), unsigned{TUN_F_CSUM | TUN_F_TSO4});
  EXPECT_EQ(tun_offload_for(kE1000 | kFeatureTso6), unsigned{TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6});
  // Segmentation needs scatter-gather and a checksum for its protocol, as netdev_fix_features has it.
  EXPECT_EQ(tun_offload_for(kFeatureHwCsum | kFeatureTso), unsigned{TUN_F_CSUM});
  EXPECT_EQ(tun_offload_for(kFeatureSg | kFeatureIpv6Csum | kFeatureTso), unsigned{TUN_F_CSUM});
  EXPECT_EQ(tun_offload_for(kFeatureSg | kFeatureIpCsum | kFeatureTso | kFeatureTso6),
            unsigned{TUN_F_CSUM | TUN_F_TSO4});
  // No checksum offload: nothing (the relay, 8139too).
  EXPECT_EQ(tun_offload_for(kFeatureSg | kFeatureTso), 0u);
  EXPECT_EQ(tun_offload_for(0), 0u);
}

net::VnetHeader header(uint8_t flags, uint8_t gso, uint16_t size, uint16_t start, uint16_t offset) {
  return {flags, gso, 54, size, start, offset};
}

TEST(TapOffload, ASegmentedTcpPacketKeepsItsSegmentSizeAndChecksumPlace) {
  auto o = tx_offload_from(header(net::kVnetNeedsCsum, net::kVnetGsoTcpv4, 1448, 34, 16), 65000);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->flags, SIDE_TX_NEEDS_CSUM);
  EXPECT_EQ(o->gso_type, SIDE_TX_GSO_TCPV4);
  EXPECT_EQ(o->gso_size, 1448);
  EXPECT_EQ(o->csum_start, 34);
  EXPECT_EQ(o->csum_offset, 16);
  EXPECT_TRUE(ipc::valid_tx_offload(*o));
  auto v6 = tx_offload_from(header(net::kVnetNeedsCsum, net::kVnetGsoTcpv6, 1428, 54, 16), 9000);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->gso_type, SIDE_TX_GSO_TCPV6);
}

TEST(TapOffload, AChecksumAloneOrNothingAtAll) {
  auto csum = tx_offload_from(header(net::kVnetNeedsCsum, net::kVnetGsoNone, 0, 34, 6), 1000);
  ASSERT_TRUE(csum);
  EXPECT_EQ(csum->flags, SIDE_TX_NEEDS_CSUM);
  EXPECT_EQ(csum->gso_type, SIDE_TX_GSO_NONE);
  // A checksum the host found valid needs nothing of the driver.
  auto valid = tx_offload_from(header(net::kVnetDataValid, net::kVnetGsoNone, 0, 0, 0), 1000);
  ASSERT_TRUE(valid);
  EXPECT_EQ(valid->flags, 0);
  EXPECT_TRUE(ipc::valid_tx_offload(*valid));
}

TEST(TapOffload, WhatNoDriverIsGivenIsRefused) {
  // The checksum's place beyond the frame.
  EXPECT_FALSE(tx_offload_from(header(net::kVnetNeedsCsum, net::kVnetGsoNone, 0, 990, 16), 1000));
  // Segmentation without the checksum it needs, without a segment size, of UDP, or with ECN (never offered).
  EXPECT_FALSE(tx_offload_from(header(0, net::kVnetGsoTcpv4, 1448, 34, 16), 65000));
  EXPECT_FALSE(tx_offload_from(header(net::kVnetNeedsCsum, net::kVnetGsoTcpv4, 0, 34, 16), 65000));
  EXPECT_FALSE(tx_offload_from(header(net::kVnetNeedsCsum, net::kVnetGsoUdp, 1472, 34, 6), 65000));
  EXPECT_FALSE(
      tx_offload_from(header(net::kVnetNeedsCsum, net::kVnetGsoTcpv4 | net::kVnetGsoEcn, 1448, 34, 16), 65000));
  EXPECT_FALSE(tx_offload_from(header(0x80, net::kVnetGsoNone, 0, 0, 0), 1000));
}

// A TCPv4 segmentation of 1448-byte segments whose checksum is the TCP header's, after 34 bytes of Ethernet and
// IPv4 headers, with 54 bytes of headers: what the host's stack sends. Each case below breaks one thing of it.
net::VnetHeader tso() {
  return {net::kVnetNeedsCsum, net::kVnetGsoTcpv4, 54, 1448, 34, 16};
}

// What the kernel refuses in a virtio-net header (virtio_net_hdr_to_skb, tun_get_user) or an skb cannot count is
// refused here too, though the checksum's place alone is in the frame (tap_offload_fuzz found each).
TEST(TapOffload, ASegmentationTheKernelWouldRefuseIsRefused) {
  ASSERT_TRUE(tx_offload_from(tso(), 1000));
  net::VnetHeader h = tso();
  h.csum_offset = 6;  // UDP's checksum, not TCP's
  EXPECT_FALSE(tx_offload_from(h, 1000));
  h = tso();
  h.hdr_len = 53;
  EXPECT_FALSE(tx_offload_from(h, 53));  // the checksum fits (34 + 16 + 2), the 20-byte TCP header does not
  EXPECT_TRUE(tx_offload_from(h, 54));
  EXPECT_FALSE(tx_offload_from(tso(), 53));  // headers longer than the frame
  h = tso();
  h.gso_size = 0xffff;  // GSO_BY_FRAGS: "by the fragment list", which no TCP packet is
  EXPECT_FALSE(tx_offload_from(h, 65000));
  // One-byte segments: 65535 of them (GSO_MAX_SEGS, what gso_segs holds) after the headers, not one more.
  h = tso();
  h.gso_size = 1;
  EXPECT_TRUE(tx_offload_from(h, 54 + 65535));
  EXPECT_FALSE(tx_offload_from(h, 54 + 65536));
}

TEST(TapOffload, TheTransmitMessageRefusesOffloadsNoHeaderCanName) {
  side_tx_offload o{};
  EXPECT_TRUE(ipc::valid_tx_offload(o));
  o.gso_size = 1448;  // a segment size without segmentation
  EXPECT_FALSE(ipc::valid_tx_offload(o));
  o = {};
  o.gso_type = SIDE_TX_GSO_TCPV4;
  o.gso_size = 1448;  // without the checksum
  EXPECT_FALSE(ipc::valid_tx_offload(o));
  o.flags = SIDE_TX_NEEDS_CSUM;
  EXPECT_TRUE(ipc::valid_tx_offload(o));
  o.gso_type = 3;  // UDP
  EXPECT_FALSE(ipc::valid_tx_offload(o));
  o.gso_type = SIDE_TX_GSO_TCPV4;
  o.flags = 3;
  EXPECT_FALSE(ipc::valid_tx_offload(o));
}

TEST(TapOffload, AReceivedFrameSaysWhetherTheDriverCheckedItsChecksum) {
  EXPECT_EQ(rx_vnet_header(1).flags, net::kVnetDataValid);  // CHECKSUM_UNNECESSARY
  EXPECT_EQ(rx_vnet_header(0).flags, 0);
  EXPECT_EQ(rx_vnet_header(2).flags, 0);  // CHECKSUM_COMPLETE: the host's stack checks it
  EXPECT_EQ(rx_vnet_header(1).gso_type, net::kVnetGsoNone);
}

}  // namespace
}  // namespace side::host
