// Transmit descriptor sequences a hostile driver may send: a context descriptor in the middle of a TSO packet,
// offsets past the frame, a header longer than the packet, tiny MSS, zero lengths, packets across the ring's end.
// The model must neither touch memory outside a frame nor send a frame built from offsets it did not validate.
#include "e1000_fixture.h"
#include "e1000_tx_frames.h"

namespace side::e1000::test {
namespace {

constexpr uint64_t kRing = kIova + 0x1000;
constexpr uint64_t kBuf = kIova + 0x8000;
constexpr uint8_t kTsoTcp4 = TUCMD_TCP | TUCMD_IP | TUCMD_TSE;

// An IPv4/TCP packet of `payload` bytes prepared for TSO as e1000_tso() does, copied to kBuf.
std::vector<uint8_t> tso_packet(uint8_t* at, size_t payload) {
  std::vector<uint8_t> f = ipv4_tcp(payload, 0, 0);
  store_be16(f.data() + 50, pseudo_sum(f.data() + 14, 0));
  std::memcpy(at, f.data(), f.size());
  return f;
}

TEST_F(E1000Test, ContextDescriptorMidTsoAppliesToTheNextPacketOnly) {
  setup_tx(kRing, 8);
  std::vector<uint8_t> f = tso_packet(mem(kBuf), 200);
  put_tx_context(kRing, 0, 14, 24, 33, 34, 50, 0, 200, kTsoTcp4, 54, 100);
  put_tx_data(kRing, 1, kBuf, 54 + 150, TXD_CMD_TSE, POPTS_TXSM | POPTS_IXSM);
  // Offsets far past the 154-byte segments, arriving after the packet's context was checked.
  put_tx_context(kRing, 2, 200, 210, 0, 220, 250, 0, 200, kTsoTcp4, 54, 100);
  put_tx_data(kRing, 3, kBuf + 54 + 150, 50, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, 0);
  wr(TDT, 4);
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& s : sent) {
    ASSERT_EQ(s.size(), 154u);
    expect_valid_ipv4_tcp(s);
  }
  EXPECT_EQ(load_be32(sent[1].data() + 38), 0x01000000u + 100) << "second segment's sequence number";
  EXPECT_EQ(dev->counters().tx_context_mid_frame, 1u);
  EXPECT_EQ(dev->counters().tx_dropped_malformed, 0u);
  // The new context does apply to the next packet, where it is checked and refused.
  put_tx_data(kRing, 4, kBuf, 54 + 200, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, POPTS_TXSM);
  wr(TDT, 5);
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_EQ(dev->counters().tx_dropped_malformed, 1u);
  EXPECT_EQ(rd(TDH), 5u);
}

TEST_F(E1000Test, ContextMidTsoCannotChangeTheHeaderLength) {
  setup_tx(kRing, 8);
  tso_packet(mem(kBuf), 300);
  put_tx_context(kRing, 0, 14, 24, 33, 34, 50, 0, 300, kTsoTcp4, 54, 150);
  put_tx_data(kRing, 1, kBuf, 54 + 100, TXD_CMD_TSE, POPTS_TXSM | POPTS_IXSM);
  // Valid for a 255-byte header, which this packet does not have.
  put_tx_context(kRing, 2, 14, 24, 33, 200, 216, 0, 300, kTsoTcp4, 255, 150);
  put_tx_data(kRing, 3, kBuf + 154, 200, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, 0);
  wr(TDT, 4);
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& s : sent) {
    ASSERT_EQ(s.size(), 54u + 150);
    expect_valid_ipv4_tcp(s);
  }
}

TEST_F(E1000Test, TsoPacketEndingInsideItsHeaderIsDroppedAndCounted) {
  setup_tx(kRing, 8);
  tso_packet(mem(kBuf), 100);
  put_tx_context(kRing, 0, 14, 24, 33, 34, 50, 0, 100, kTsoTcp4, 54, 100);
  put_tx_data(kRing, 1, kBuf, 30, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, POPTS_TXSM);
  wr(TDT, 2);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(dev->counters().tx_dropped_malformed, 1u);
  EXPECT_EQ(rd(TDH), 2u);
}

TEST_F(E1000Test, ChecksumOffsetsPastTheFrameAreRefused) {
  setup_tx(kRing, 8);
  std::vector<uint8_t> f = ipv4_tcp(6, 60 - 14, 0);
  std::memcpy(mem(kBuf), f.data(), f.size());
  // Checksum field past the end (TUCSO), then a start past the end (TUCSS), then a legacy CSO past the end.
  put_tx_context(kRing, 0, 14, 24, 33, 34, 250, 0, 0, TUCMD_TCP | TUCMD_IP, 0, 0);
  put_tx_data(kRing, 1, kBuf, 60, TXD_CMD_EOP, POPTS_TXSM);
  put_tx_context(kRing, 2, 14, 24, 33, 240, 50, 0, 0, TUCMD_TCP | TUCMD_IP, 0, 0);
  put_tx_data(kRing, 3, kBuf, 60, TXD_CMD_EOP, POPTS_TXSM);
  put_tx_legacy(kRing, 4, kBuf, 60, TXD_CMD_EOP | TXD_CMD_IC);
  mem(kRing + 4 * 16)[10] = 200;  // CSO
  mem(kRing + 4 * 16)[13] = 14;   // CSS
  put_tx_legacy(kRing, 5, kBuf, 60, TXD_CMD_EOP | TXD_CMD_IC | TXD_CMD_RS);
  mem(kRing + 5 * 16)[10] = 59;  // CSO: one byte of the field inside the frame, one outside
  wr(TDT, 6);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(dev->counters().tx_dropped_malformed, 4u);
  EXPECT_EQ(rd(TDH), 6u);
}

TEST_F(E1000Test, TsoWithOneByteMssIsSegmentedWithinBounds) {
  setup_tx(kRing, 8);
  wr(TCTL, TCTL_EN);  // no padding: the 55-byte segments go out as built
  std::vector<uint8_t> f = tso_packet(mem(kBuf), 100);
  put_tx_context(kRing, 0, 14, 24, 33, 34, 50, 0, 100, kTsoTcp4, 54, 1);
  put_tx_data(kRing, 1, kBuf, 54 + 100, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, POPTS_TXSM | POPTS_IXSM);
  wr(TDT, 2);
  ASSERT_EQ(sent.size(), 100u);
  for (size_t i = 0; i < sent.size(); ++i) {
    ASSERT_EQ(sent[i].size(), 55u);
    expect_valid_ipv4_tcp(sent[i]);
    EXPECT_EQ(sent[i][54], f[54 + i]);
  }
}

TEST_F(E1000Test, ZeroLengthDescriptorsAddNothingToAFrame) {
  setup_tx(kRing, 8);
  std::vector<uint8_t> f = ipv4_tcp(40, 0, 0);
  std::memcpy(mem(kBuf), f.data(), f.size());
  put_tx_legacy(kRing, 0, kBuf, 0, 0);
  put_tx_legacy(kRing, 1, kBuf, 50, 0);
  put_tx_legacy(kRing, 2, 0xdead0000, 0, 0);  // unmapped, but nothing to read
  put_tx_legacy(kRing, 3, kBuf + 50, static_cast<uint16_t>(f.size() - 50), TXD_CMD_EOP | TXD_CMD_RS);
  wr(TDT, 4);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], f);
  EXPECT_EQ(dev->counters().tx_dropped_iommu, 0u);
}

TEST_F(E1000Test, TsoPacketAcrossTheRingEnd) {
  setup_tx(kRing, 8);
  wr(TDH, 6);
  wr(TDT, 6);
  tso_packet(mem(kBuf), 250);
  put_tx_context(kRing, 6, 14, 24, 33, 34, 50, 0, 250, kTsoTcp4, 54, 100);
  put_tx_data(kRing, 7, kBuf, 60, TXD_CMD_TSE, POPTS_TXSM | POPTS_IXSM);
  put_tx_data(kRing, 0, kBuf + 60, 0, TXD_CMD_TSE, 0);
  put_tx_data(kRing, 1, kBuf + 60, 244, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, 0);
  wr(TDT, 2);
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[2].size(), 54u + 50);
  for (const auto& s : sent) expect_valid_ipv4_tcp(s);
  EXPECT_EQ(rd(TDH), 2u);
}

TEST_F(E1000Test, VlanTagOnAFrameShorterThanItsAddressesIsNotInserted) {
  setup_tx(kRing, 8);
  wr(CTRL, rd(CTRL) | CTRL_VME);
  std::memset(mem(kBuf), 0xab, 8);
  put_tx_legacy(kRing, 0, kBuf, 8, TXD_CMD_EOP | TXD_CMD_VLE | TXD_CMD_RS);
  wr(TDT, 1);
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(sent[0].size(), 60u);  // padded (TCTL.PSP), untagged
  EXPECT_EQ(sent[0][7], 0xab);
  EXPECT_EQ(sent[0][8], 0);
}

}  // namespace
}  // namespace side::e1000::test
