// Receive path: filtering, descriptor write-back, splitting, overrun, faults, bounds.
#include <atomic>
#include <thread>

#include "e1000_fixture.h"

namespace side::e1000::test {
namespace {

constexpr uint64_t kRing = kIova + 0x1000;
constexpr uint64_t kBufs = kIova + 0x10000;

uint32_t mta_hash_mo0(const std::array<uint8_t, 6>& a) {
  return ((a[4] >> 4) | (a[5] << 4)) & 0xfff;
}

TEST_F(E1000Test, UnicastMatchIsWrittenWithFcsAndDescriptorStatus) {
  setup_rx(kRing, 8, kBufs, 2048);
  wr(IMS, ICR_RXT0);
  std::vector<uint8_t> f = frame_to(kMac, 100);
  ASSERT_EQ(dev->receive(f), RxResult::kAccepted);
  EXPECT_EQ(0, std::memcmp(mem(kBufs), f.data(), f.size()));
  uint32_t fcs = crc32_ieee(f);
  EXPECT_EQ(load_le32(mem(kBufs + 100)), fcs);
  const uint8_t* d = mem(kRing);
  EXPECT_EQ(load_le16(d + 8), 104u);  // length includes the FCS (SECRC clear, as Linux leaves it)
  EXPECT_EQ(d[12], RXD_STAT_DD | RXD_STAT_EOP | RXD_STAT_IXSM);
  EXPECT_EQ(d[13], 0);
  EXPECT_EQ(rd(RDH), 1u);
  EXPECT_TRUE(irq.level);
  EXPECT_TRUE(rd(ICR) & ICR_RXT0);
  EXPECT_EQ(dev->counters().rx_frames, 1u);
  // SECRC strips the FCS.
  wr(RCTL, rd(RCTL) | RCTL_SECRC);
  ASSERT_EQ(dev->receive(f), RxResult::kAccepted);
  EXPECT_EQ(load_le16(mem(kRing + 16) + 8), 100u);
}

// Recovery: from the moment the driver is known dead until the next one has its receiver on, arriving frames are
// kept (through the reset recovery makes) instead of going into the dead driver's ring or being dropped, and the
// next driver receives them, oldest first and byte for byte, as its descriptors allow; later frames queue behind.
TEST_F(E1000Test, FramesArrivingWhileNoDriverIsAttachedAreReceivedByTheNextInOrder) {
  setup_rx(kRing, 8, kBufs, 2048);
  dev->hold_received_frames(true);
  std::vector<std::vector<uint8_t>> arrived;
  auto arrive = [&](size_t len, uint8_t fill) {
    arrived.push_back(frame_to(kMac, len, fill));
    return dev->receive(arrived.back());
  };
  for (int i = 0; i < 3; ++i) ASSERT_EQ(arrive(80 + i, static_cast<uint8_t>(0x10 + i)), RxResult::kAccepted);
  EXPECT_EQ(rd(RDH), 0u) << "nothing went into the dead driver's ring";
  dev->reset();  // recovery's quiesce
  for (int i = 3; i < 10; ++i) ASSERT_EQ(arrive(80 + i, static_cast<uint8_t>(0x10 + i)), RxResult::kAccepted);
  EXPECT_EQ(dev->counters().rx_held, 10u);
  EXPECT_EQ(dev->counters().rx_frames, 0u);

  // The next driver: its ring (7 usable descriptors of 8), then its receiver on. Seven frames at once.
  std::memset(mem(kBufs), 0, 8 * 2048);
  setup_rx(kRing, 8, kBufs, 2048);
  EXPECT_EQ(rd(RDH), 7u);
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(0, std::memcmp(mem(kBufs + i * 2048), arrived[i].data(), arrived[i].size())) << "frame " << i;
  }
  // One arriving now waits behind the three still held; all four go in as the driver returns descriptors.
  ASSERT_EQ(arrive(90, 0x77), RxResult::kAccepted);
  EXPECT_EQ(rd(RDH), 7u);
  dev->hold_received_frames(false);  // the restart is over: the new driver has the receiver, the rest stays its
  wr(RDT, 3);
  EXPECT_EQ(rd(RDH), 3u);
  for (size_t i = 7; i < 11; ++i) {
    EXPECT_EQ(0, std::memcmp(mem(kBufs + (i % 8) * 2048), arrived[i].data(), arrived[i].size())) << "frame " << i;
  }
  EXPECT_EQ(dev->counters().rx_frames, 11u);
  EXPECT_EQ(dev->counters().rx_held, 11u);
  // The hold is over: a disabled receiver drops again, as hardware does.
  wr(RCTL, 0);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kDroppedDisabled);
}

// What is held is bounded, and discarded when recovery gives up on the driver.
TEST_F(E1000Test, HeldFramesAreBoundedAndDiscardedWhenNoDriverComes) {
  setup_rx(kRing, 8, kBufs, 2048);
  dev->hold_received_frames(true);
  for (size_t i = 0; i < E1000::kMaxHeldFrames; ++i) ASSERT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kAccepted);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kDroppedNoDescriptors);
  EXPECT_EQ(dev->counters().rx_dropped_held, 1u);
  dev->hold_received_frames(false);  // the restart is over and no driver took the receiver
  EXPECT_EQ(dev->counters().rx_dropped_held, 1u + E1000::kMaxHeldFrames);
  setup_rx(kRing, 8, kBufs, 2048);
  EXPECT_EQ(rd(RDH), 0u);
  EXPECT_EQ(dev->counters().rx_frames, 0u);
}

TEST_F(E1000Test, AddressFiltering) {
  setup_rx(kRing, 16, kBufs, 2048);
  const std::array<uint8_t, 6> other = {0x02, 0x11, 0x22, 0x33, 0x44, 0x56};
  const std::array<uint8_t, 6> bcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const std::array<uint8_t, 6> mcast = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
  const std::array<uint8_t, 6> mcast2 = {0x01, 0x00, 0x5e, 0x00, 0x12, 0x34};
  EXPECT_EQ(dev->receive(frame_to(other, 64)), RxResult::kDroppedFiltered);
  EXPECT_EQ(dev->receive(frame_to(bcast, 64)), RxResult::kAccepted);  // BAM
  EXPECT_EQ(dev->receive(frame_to(mcast, 64)), RxResult::kDroppedFiltered);
  uint32_t h = mta_hash_mo0(mcast);
  wr(MTA + 4 * (h >> 5), 1u << (h & 31));
  EXPECT_EQ(dev->receive(frame_to(mcast, 64)), RxResult::kAccepted);
  EXPECT_EQ(dev->receive(frame_to(mcast2, 64)), RxResult::kDroppedFiltered);
  // A second exact address in RAR[3].
  wr(RAL0 + 24, 0x33221102);
  wr(RAH0 + 24, RAH_AV | 0x5644);
  EXPECT_EQ(dev->receive(frame_to(other, 64)), RxResult::kAccepted);
  wr(RAH0 + 24, 0x5644);  // AV clear: entry ignored
  EXPECT_EQ(dev->receive(frame_to(other, 64)), RxResult::kDroppedFiltered);
  // Broadcast without BAM.
  wr(RCTL, RCTL_EN);
  EXPECT_EQ(dev->receive(frame_to(bcast, 64)), RxResult::kDroppedFiltered);
  // Multicast promiscuous, unicast promiscuous.
  wr(RCTL, RCTL_EN | RCTL_MPE);
  EXPECT_EQ(dev->receive(frame_to(mcast2, 64)), RxResult::kAccepted);
  EXPECT_EQ(dev->receive(frame_to(other, 64)), RxResult::kDroppedFiltered);
  wr(RCTL, RCTL_EN | RCTL_UPE);
  EXPECT_EQ(dev->receive(frame_to(other, 64)), RxResult::kAccepted);
  // Receiver disabled.
  wr(RCTL, 0);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kDroppedDisabled);
  EXPECT_EQ(rd(BPRC), 1u);
  EXPECT_EQ(rd(MPRC), 2u);
}

TEST_F(E1000Test, MulticastOffsetSelectsHashBits) {
  setup_rx(kRing, 8, kBufs, 2048);
  const std::array<uint8_t, 6> mc = {0x01, 0x00, 0x5e, 0x7f, 0xab, 0xcd};
  // MO = 3 uses address bits 43:32 (the driver's e1000_hash_mc_addr case 3).
  wr(RCTL, RCTL_EN | (3u << RCTL_MO_SHIFT));
  uint32_t h = (mc[4] | (mc[5] << 8)) & 0xfff;
  wr(MTA + 4 * (h >> 5), 1u << (h & 31));
  EXPECT_EQ(dev->receive(frame_to(mc, 64)), RxResult::kAccepted);
  wr(RCTL, RCTL_EN);  // MO = 0: different bits, not set
  EXPECT_EQ(dev->receive(frame_to(mc, 64)), RxResult::kDroppedFiltered);
}

TEST_F(E1000Test, OverrunWhenNoDescriptorsIsCounted) {
  setup_rx(kRing, 8, kBufs, 2048);
  wr(RDT, 2);  // two descriptors available
  wr(IMS, ICR_RXO);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kAccepted);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kAccepted);
  EXPECT_FALSE(irq.level);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kDroppedNoDescriptors);
  EXPECT_TRUE(irq.level);
  EXPECT_TRUE(rd(ICR) & ICR_RXO);
  EXPECT_EQ(rd(MPC), 1u);
  EXPECT_EQ(rd(RDH), 2u);
  EXPECT_EQ(dev->counters().rx_dropped_no_descriptors, 1u);
  // Driver returns buffers: reception resumes.
  wr(RDT, 5);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kAccepted);
}

TEST_F(E1000Test, LargeFrameSplitsAcrossDescriptors) {
  // BSIZE 11b without BSEX = 256-byte buffers.
  setup_rx(kRing, 8, kBufs, 256, 3u << RCTL_BSIZE_SHIFT);
  std::vector<uint8_t> f = frame_to(kMac, 600);
  ASSERT_EQ(dev->receive(f), RxResult::kAccepted);
  std::vector<uint8_t> with_fcs = f;
  uint32_t fcs = crc32_ieee(f);
  for (int i = 0; i < 4; ++i) with_fcs.push_back(static_cast<uint8_t>(fcs >> (8 * i)));
  std::vector<uint8_t> got(mem(kBufs), mem(kBufs) + 3 * 256);
  got.resize(604);
  EXPECT_EQ(got, with_fcs);
  EXPECT_EQ(load_le16(mem(kRing) + 8), 256u);
  EXPECT_EQ(mem(kRing)[12], RXD_STAT_DD);
  EXPECT_EQ(load_le16(mem(kRing + 16) + 8), 256u);
  EXPECT_EQ(mem(kRing + 16)[12], RXD_STAT_DD);
  EXPECT_EQ(load_le16(mem(kRing + 32) + 8), 92u);
  EXPECT_EQ(mem(kRing + 32)[12] & (RXD_STAT_DD | RXD_STAT_EOP), RXD_STAT_DD | RXD_STAT_EOP);
  EXPECT_EQ(rd(RDH), 3u);
  // RXDMT0: 7 available, 3 used -> 4 free <= 8/2.
  EXPECT_TRUE(rd(ICR) & ICR_RXDMT0);
}

TEST_F(E1000Test, LongFramesNeedLpe) {
  setup_rx(kRing, 8, kBufs, 2048);
  EXPECT_EQ(dev->receive(frame_to(kMac, 1514)), RxResult::kAccepted);
  EXPECT_EQ(dev->receive(frame_to(kMac, 1515)), RxResult::kDroppedSize);
  EXPECT_EQ(rd(ROC), 1u);
  // LPE with 16 KiB buffers (BSEX + BSIZE 01b).
  wr(RCTL, RCTL_EN | RCTL_LPE | RCTL_BSEX | (1u << RCTL_BSIZE_SHIFT));
  wr(RDH, 0);
  wr(RDT, 0);
  for (uint32_t i = 0; i < 8; ++i) store_le64(mem(kRing + i * 16), kBufs + uint64_t{i} * 16384);
  wr(RDT, 4);
  EXPECT_EQ(dev->receive(frame_to(kMac, 9000)), RxResult::kAccepted);
  EXPECT_EQ(load_le16(mem(kRing) + 8), 9004u);
  EXPECT_EQ(dev->receive(frame_to(kMac, 13)), RxResult::kDroppedSize);  // runt
  // Short frames arrive padded to the 60-byte minimum.
  EXPECT_EQ(dev->receive(frame_to(kMac, 20)), RxResult::kAccepted);
  EXPECT_EQ(load_le16(mem(kRing + 16) + 8), 64u);
}

TEST_F(E1000Test, RxChecksumOffloadReportsGoodAndBad) {
  setup_rx(kRing, 8, kBufs, 2048);
  wr(RXCSUM, RXCSUM_IPOFL | RXCSUM_TUOFL);
  // IPv4/UDP with correct checksums.
  std::vector<uint8_t> f = frame_to(kMac, 14 + 20 + 8 + 10);
  uint8_t* ip = f.data() + 14;
  std::memset(ip, 0, 28);
  ip[0] = 0x45;
  store_be16(ip + 2, 38);
  ip[8] = 64;
  ip[9] = 17;
  const uint8_t addrs[8] = {192, 168, 0, 1, 192, 168, 0, 2};
  std::copy(addrs, addrs + 8, ip + 12);
  store_be16(ip + 10, csum_finish(csum_add(std::span<const uint8_t>(ip, 20))));
  uint8_t* udp = ip + 20;
  store_be16(udp, 1000);
  store_be16(udp + 2, 2000);
  store_be16(udp + 4, 18);
  uint8_t ph[12];
  std::copy(ip + 12, ip + 20, ph);
  ph[8] = 0;
  ph[9] = 17;
  store_be16(ph + 10, 18);
  store_be16(udp + 6, csum_finish(csum_add(std::span<const uint8_t>(udp, 18), csum_add(ph))));
  ASSERT_EQ(dev->receive(f), RxResult::kAccepted);
  EXPECT_EQ(mem(kRing)[12], RXD_STAT_DD | RXD_STAT_EOP | RXD_STAT_IPCS | RXD_STAT_TCPCS);
  EXPECT_EQ(mem(kRing)[13], 0);
  f[14 + 28] ^= 0xff;  // corrupt the payload
  ASSERT_EQ(dev->receive(f), RxResult::kAccepted);
  EXPECT_EQ(mem(kRing + 16)[13], RXD_ERR_TCPE);
}

TEST_F(E1000Test, VlanStripAndFilter) {
  setup_rx(kRing, 8, kBufs, 2048);
  std::vector<uint8_t> f = frame_to(kMac, 80);
  // Insert an 802.1Q tag (VID 5) after the addresses.
  std::vector<uint8_t> tagged(f.size() + 4);
  std::copy(f.begin(), f.begin() + 12, tagged.begin());
  tagged[12] = 0x81;
  tagged[13] = 0x00;
  tagged[14] = 0x00;
  tagged[15] = 0x05;
  std::copy(f.begin() + 12, f.end(), tagged.begin() + 16);
  wr(RCTL, rd(RCTL) | RCTL_VFE);
  EXPECT_EQ(dev->receive(tagged), RxResult::kDroppedFiltered);
  wr(VFTA, 1u << 5);
  wr(CTRL, rd(CTRL) | CTRL_VME);
  ASSERT_EQ(dev->receive(tagged), RxResult::kAccepted);
  EXPECT_EQ(0, std::memcmp(mem(kBufs), f.data(), f.size()));
  EXPECT_TRUE(mem(kRing)[12] & RXD_STAT_VP);
  EXPECT_EQ(load_le16(mem(kRing) + 14), 5u);
}

TEST_F(E1000Test, RxIommuFaultLeavesMemoryAndRingUntouched) {
  setup_rx(kRing, 8, kBufs, 256, 3u << RCTL_BSIZE_SHIFT);
  // Second buffer points outside every mapping: the 600-byte frame needs three buffers.
  store_le64(mem(kRing + 16), 0x7000'0000);
  std::vector<uint8_t> f = frame_to(kMac, 600);
  EXPECT_EQ(dev->receive(f), RxResult::kDroppedIommuFault);
  EXPECT_EQ(mem(kBufs)[0], 0);  // first buffer not written either
  EXPECT_EQ(mem(kRing)[12], 0);
  EXPECT_EQ(rd(RDH), 0u);
  EXPECT_EQ(dev->counters().rx_dropped_iommu, 1u);
  EXPECT_EQ(mmu.counters().faults, 1u);
  EXPECT_EQ(mmu.recent_faults()[0].direction, iommu::Direction::kDeviceWrite);
  // A single-buffer frame still fits in descriptor 0 and is received.
  EXPECT_EQ(dev->receive(frame_to(kMac, 100)), RxResult::kAccepted);
}

TEST_F(E1000Test, BogusRxRingIsBounded) {
  setup_rx(kRing, 8, kBufs, 2048);
  wr(RDH, 50);  // beyond the ring
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kDroppedBadRing);
  wr(RDLEN, 0);
  wr(RDH, 0);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kDroppedBadRing);
  EXPECT_EQ(dev->counters().rx_dropped_bad_ring, 2u);
  // Huge ring in unmapped space: fault, not a walk.
  wr(RDBAL, 0x7000'0000);
  wr(RDLEN, 0xfff80);
  wr(RDT, 0xfff0);
  EXPECT_EQ(dev->receive(frame_to(kMac, 64)), RxResult::kDroppedIommuFault);
}

// The reordered frame of docs/bench: a buffer the model validated was closed to it before the frame was written (a
// posted unmap of another mapping of the same page). The model wrote the descriptor's DD anyway, and the driver
// took the buffer's old contents, an earlier frame, as a new one. Here a thread opens and closes the buffers' page
// while frames arrive: a frame either lands whole with DD, or is dropped with nothing marked done.
TEST_F(E1000Test, RxBufferClosedMidFrameIsNeverMarkedDone) {
  // 256-byte buffers: a 1514-byte frame takes 6 of them, which widens the window between validating a buffer and
  // writing it.
  constexpr uint32_t kDescs = 64, kPerFrame = 6, kBuf = 256;
  ASSERT_TRUE(mmu.unmap(kIova, kArenaSize));
  ASSERT_TRUE(mmu.map(kIova, 0, 0x10000, iommu::Perm::kBidirectional));  // the ring, always open
  ASSERT_TRUE(mmu.map(kBufs, kBufs - kIova, 0x10000, iommu::Perm::kBidirectional));
  setup_rx(kRing, kDescs, kBufs, kBuf, 3u << RCTL_BSIZE_SHIFT);
  std::atomic<bool> stop{false};
  std::thread toggler([&] {
    while (!stop.load()) {
      (void)mmu.unmap(kBufs, 0x10000);
      (void)mmu.map(kBufs, kBufs - kIova, 0x10000, iommu::Perm::kBidirectional);
    }
  });
  uint32_t next = 0, accepted = 0, stale = 0;
  for (uint32_t seq = 1; seq <= 200'000 && accepted < 50'000; ++seq) {
    std::vector<uint8_t> f = frame_to(kMac, 1514, static_cast<uint8_t>(seq));
    store_le32(f.data() + 14, seq);
    store_le32(f.data() + 1500, seq);  // in the last buffer too
    if (dev->receive(f) != RxResult::kAccepted) continue;
    ++accepted;
    // The driver's side: descriptors marked done must hold the frame just received, in every buffer.
    const uint32_t last = (next + kPerFrame - 1) % kDescs;
    if (!(mem(kRing + last * 16)[12] & RXD_STAT_DD) || load_le32(mem(kBufs + next * kBuf) + 14) != seq ||
        load_le32(mem(kBufs + last * kBuf) + 1500 - 5 * kBuf) != seq) {
      ++stale;
    }
    for (uint32_t k = 0; k < kPerFrame; ++k) mem(kRing + ((next + k) % kDescs) * 16)[12] = 0;
    next = (next + kPerFrame) % kDescs;
    wr(RDT, (next + kDescs - 1) % kDescs);  // the descriptors go back to the device
  }
  stop = true;
  toggler.join();
  EXPECT_GT(accepted, 0u);
  EXPECT_EQ(stale, 0u);
}

}  // namespace
}  // namespace side::e1000::test
