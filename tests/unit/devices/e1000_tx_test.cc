// Transmit path: legacy descriptors, checksum offload, TSO, faults and bounds.
#include <condition_variable>
#include <mutex>
#include <thread>

#include "e1000_fixture.h"
#include "e1000_tx_frames.h"

namespace side::e1000::test {
namespace {

constexpr uint64_t kRing = kIova + 0x1000;
constexpr uint64_t kBuf = kIova + 0x8000;

TEST_F(E1000Test, LegacyTransmitDeliversExactBytesAndWritesBackDd) {
  setup_tx(kRing, 8);
  wr(IMS, ICR_TXDW);
  std::vector<uint8_t> f = frame_to({0x02, 9, 9, 9, 9, 9}, 100);
  std::memcpy(mem(kBuf), f.data(), f.size());
  put_tx_legacy(kRing, 0, kBuf, 100, TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS);
  wr(TDT, 1);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], f);
  EXPECT_EQ(mem(kRing)[12] & TXD_STAT_DD, TXD_STAT_DD);
  EXPECT_EQ(rd(TDH), 1u);
  EXPECT_TRUE(irq.level);
  EXPECT_EQ(rd(ICR), ICR_TXDW | ICR_TXQE | ICR_INT_ASSERTED);
  EXPECT_EQ(rd(GPTC), 1u);
  EXPECT_EQ(rd(TPT), 1u);
  EXPECT_EQ(rd(GOTCL), 104u);
  EXPECT_EQ(dev->counters().tx_frames, 1u);
}

// Two threads writing registers at once (two vCPUs of an in-process domain): frames reach the wire in ring order
// even when the first thread is still handing its frame over when the second one's kick completes.
TEST_F(E1000Test, ConcurrentKicksDeliverInRingOrder) {
  setup_tx(kRing, 8);
  std::mutex m;
  std::condition_variable cv;
  bool first_in_sink = false, second_in_sink = false;
  std::vector<uint8_t> order;
  dev->set_frame_sink([&](std::span<const uint8_t> f) {
    std::unique_lock lock(m);
    if (!first_in_sink) {
      first_in_sink = true;
      cv.notify_all();
      // A slow hand-over of the first frame: the second kick completes meanwhile; bounded if it must wait.
      cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return second_in_sink; });
    } else {
      second_in_sink = true;
      cv.notify_all();
    }
    order.push_back(f[14]);
  });
  for (uint8_t i = 0; i < 2; ++i) {
    std::vector<uint8_t> f = frame_to({0x02, 9, 9, 9, 9, 9}, 64);
    f[14] = i;
    std::memcpy(mem(kBuf + i * 0x100), f.data(), f.size());
    put_tx_legacy(kRing, i, kBuf + i * 0x100, 64, TXD_CMD_EOP | TXD_CMD_IFCS);
  }
  std::thread first([&] { wr(TDT, 1); });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return first_in_sink; });
  }
  wr(TDT, 2);
  first.join();
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], 0);
  EXPECT_EQ(order[1], 1);
}

TEST_F(E1000Test, MultiDescriptorFrameAssembledAtEop) {
  setup_tx(kRing, 8);
  std::vector<uint8_t> f = frame_to({0x02, 9, 9, 9, 9, 9}, 300);
  std::memcpy(mem(kBuf), f.data(), 100);
  std::memcpy(mem(kBuf + 0x1000), f.data() + 100, 150);
  std::memcpy(mem(kBuf + 0x3000), f.data() + 250, 50);
  put_tx_legacy(kRing, 0, kBuf, 100, 0);
  put_tx_legacy(kRing, 1, kBuf + 0x1000, 150, 0);
  wr(TDT, 2);
  EXPECT_TRUE(sent.empty());  // no EOP yet
  put_tx_legacy(kRing, 2, kBuf + 0x3000, 50, TXD_CMD_EOP | TXD_CMD_RS);
  wr(TDT, 3);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], f);
  EXPECT_EQ(mem(kRing)[12], 0);  // no RS: no write-back
  EXPECT_EQ(mem(kRing + 32)[12], TXD_STAT_DD);
}

TEST_F(E1000Test, RingWrapsAndShortFramesArePadded) {
  setup_tx(kRing, 8);
  wr(TDH, 6);
  wr(TDT, 6);
  for (uint32_t i = 0; i < 4; ++i) {
    std::vector<uint8_t> f = frame_to({0x02, 1, 2, 3, 4, static_cast<uint8_t>(i)}, 20 + i);
    std::memcpy(mem(kBuf + i * 0x100), f.data(), f.size());
    put_tx_legacy(kRing, (6 + i) % 8, kBuf + i * 0x100, static_cast<uint16_t>(f.size()), TXD_CMD_EOP);
  }
  wr(TDT, 2);
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(rd(TDH), 2u);
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sent[i].size(), 60u);  // TCTL.PSP
    EXPECT_EQ(sent[i][5], i);
    EXPECT_EQ(sent[i][59], 0);
  }
}

TEST_F(E1000Test, ContextDescriptorTcpChecksumOffload) {
  setup_tx(kRing, 8);
  std::vector<uint8_t> f = ipv4_tcp(37, 20 + 20 + 37, 0);
  // Linux CHECKSUM_PARTIAL: the TCP checksum field holds the pseudo-header sum; the IP checksum is filled by the
  // stack (we use IXSM here to have the device do both).
  store_be16(f.data() + 14 + 20 + 16, pseudo_sum(f.data() + 14, 20 + 37));
  std::memcpy(mem(kBuf), f.data(), f.size());
  put_tx_context(kRing, 0, 14, 14 + 10, 14 + 19, 34, 34 + 16, 0, 0, TUCMD_TCP | TUCMD_IP, 0, 0);
  put_tx_data(kRing, 1, kBuf, 40, 0, POPTS_TXSM | POPTS_IXSM);
  put_tx_data(kRing, 2, kBuf + 40, static_cast<uint32_t>(f.size() - 40), TXD_CMD_EOP | TXD_CMD_RS, 0);
  wr(TDT, 3);
  ASSERT_EQ(sent.size(), 1u);
  expect_valid_ipv4_tcp(sent[0]);
  // Only the checksum fields differ from the input.
  std::vector<uint8_t> expect = f;
  expect[24] = sent[0][24];
  expect[25] = sent[0][25];
  expect[50] = sent[0][50];
  expect[51] = sent[0][51];
  EXPECT_EQ(sent[0], expect);
  EXPECT_EQ(mem(kRing + 32)[12], TXD_STAT_DD);
}

TEST_F(E1000Test, TsoSegmentsLikeLinuxE1000) {
  setup_tx(kRing, 8);
  const uint16_t mss = 1000;
  const size_t payload = 2500;
  // As e1000_tso(): IP total length 0, IP checksum 0, TCP checksum = pseudo-header sum with length 0.
  std::vector<uint8_t> f = ipv4_tcp(payload, 0, 0);
  store_be16(f.data() + 50, pseudo_sum(f.data() + 14, 0));
  std::memcpy(mem(kBuf), f.data(), f.size());
  put_tx_context(kRing, 0, 14, 24, 33, 34, 50, 0, payload, TUCMD_TCP | TUCMD_IP | TUCMD_TSE, 54, mss);
  put_tx_data(kRing, 1, kBuf, 54 + 1200, TXD_CMD_TSE, POPTS_TXSM | POPTS_IXSM);
  put_tx_data(kRing, 2, kBuf + 54 + 1200, 1300, TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, 0);
  wr(TDT, 3);
  ASSERT_EQ(sent.size(), 3u);
  size_t off = 0;
  for (size_t i = 0; i < 3; ++i) {
    const auto& s = sent[i];
    size_t seg_payload = i < 2 ? mss : payload - 2 * mss;
    ASSERT_EQ(s.size(), 54 + seg_payload);
    expect_valid_ipv4_tcp(s);
    EXPECT_EQ(load_be16(s.data() + 18), 0x1000 + i) << "IP id increments";
    EXPECT_EQ(load_be32(s.data() + 38), 0x01000000u + off) << "sequence";
    uint8_t flags = s[47];
    if (i < 2) {
      EXPECT_EQ(flags, 0x10) << "PSH/FIN only on the last segment";
    } else {
      EXPECT_EQ(flags, 0x19);
    }
    EXPECT_TRUE(std::equal(s.begin() + 54, s.end(), f.begin() + 54 + off));
    off += seg_payload;
  }
  EXPECT_EQ(dev->counters().tx_tso_segments, 3u);
  EXPECT_EQ(rd(TSCTC), 1u);
  // Three frames on the wire, one packet from the driver: recovery counts packets (nic_counters().tx_packets).
  EXPECT_EQ(dev->nic_counters().tx_frames, 3u);
  EXPECT_EQ(dev->nic_counters().tx_packets, 1u);
}

TEST_F(E1000Test, TsoWithBadContextIsDroppedNotCrashed) {
  setup_tx(kRing, 8);
  std::vector<uint8_t> f = ipv4_tcp(100, 0, 0);
  std::memcpy(mem(kBuf), f.data(), f.size());
  put_tx_context(kRing, 0, 14, 24, 33, 200, 250, 0, 100, TUCMD_TCP | TUCMD_IP | TUCMD_TSE, 54, 0);  // mss 0
  put_tx_data(kRing, 1, kBuf, static_cast<uint32_t>(f.size()), TXD_CMD_TSE | TXD_CMD_EOP | TXD_CMD_RS, POPTS_TXSM);
  wr(TDT, 2);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(dev->counters().tx_dropped_malformed, 1u);
  EXPECT_EQ(dev->counters().tx_packets, 1u);  // finished with, though not sent
  EXPECT_EQ(rd(TDH), 2u);
  EXPECT_EQ(mem(kRing + 16)[12], TXD_STAT_DD);
}

TEST_F(E1000Test, IommuFaultOnTxBufferIsReportedAndNotPerformed) {
  setup_tx(kRing, 8);
  const uint64_t outside = 0x7000'0000;  // not mapped
  put_tx_legacy(kRing, 0, outside, 64, TXD_CMD_EOP | TXD_CMD_RS);
  std::vector<uint8_t> ok = frame_to({0x02, 9, 9, 9, 9, 9}, 64);
  std::memcpy(mem(kBuf), ok.data(), ok.size());
  put_tx_legacy(kRing, 1, kBuf, 64, TXD_CMD_EOP | TXD_CMD_RS);
  wr(TDT, 2);
  ASSERT_EQ(sent.size(), 1u);  // only the good frame
  EXPECT_EQ(sent[0], ok);
  EXPECT_EQ(dev->counters().tx_dropped_iommu, 1u);
  EXPECT_EQ(dev->counters().iommu_faults, 1u);
  auto faults = mmu.recent_faults();
  ASSERT_EQ(faults.size(), 1u);
  EXPECT_EQ(faults[0].iova, outside);
  EXPECT_EQ(faults[0].length, 64u);
  EXPECT_EQ(faults[0].direction, iommu::Direction::kDeviceRead);
  EXPECT_EQ(rd(TDH), 2u);
  // A read-only (DMA_TO_DEVICE) descriptor ring cannot be written back: counted, TX continues.
  ASSERT_TRUE(mmu.unmap(kIova, kArenaSize));
  ASSERT_TRUE(mmu.map(kIova, 0, 0x8000, iommu::Perm::kDeviceRead));
  ASSERT_TRUE(mmu.map(kIova + 0x8000, 0x8000, kArenaSize - 0x8000, iommu::Perm::kBidirectional));
  put_tx_legacy(kRing, 2, kBuf, 64, TXD_CMD_EOP | TXD_CMD_RS);
  wr(TDT, 3);
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_EQ(dev->counters().tx_desc_faults, 1u);
  EXPECT_EQ(mem(kRing + 32)[12], 0);
}

TEST_F(E1000Test, BogusTxRingIsBounded) {
  wr(TCTL, TCTL_EN);
  wr(TDBAL, static_cast<uint32_t>(kRing));
  wr(TDLEN, 0);
  wr(TDT, 5);  // zero-length ring
  EXPECT_EQ(dev->counters().tx_bad_ring, 1u);
  wr(TDLEN, 128);
  wr(TDT, 100);  // tail beyond the ring
  EXPECT_EQ(dev->counters().tx_bad_ring, 2u);
  EXPECT_EQ(rd(TDH), 0u);
  // Largest ring the register allows, pointing mostly at unmapped space: stops at the first fault.
  wr(TDBAL, static_cast<uint32_t>(kIova + kArenaSize - 0x100));
  wr(TDLEN, 0xfff80);
  wr(TDT, 0xfff0);
  EXPECT_EQ(rd(TDH), 16u);  // 16 zeroed descriptors in the last 256 mapped bytes, then a fault
  EXPECT_EQ(dev->counters().tx_desc_faults, 1u);
  // Zero-length descriptors with no EOP until the ring runs out: nothing is sent, nothing hangs.
  setup_tx(kRing, 8);
  for (uint32_t i = 0; i < 8; ++i) put_tx_legacy(kRing, i, kBuf, 0, 0);
  wr(TDT, 7);
  EXPECT_EQ(rd(TDH), 7u);
  EXPECT_TRUE(sent.empty());
}

TEST_F(E1000Test, OversizeFrameIsDropped) {
  setup_tx(kRing, 8);
  put_tx_legacy(kRing, 0, kBuf, 0xffff, 0);  // 64 KiB - 1
  put_tx_legacy(kRing, 1, kBuf, 100, TXD_CMD_EOP);
  wr(TDT, 2);
  EXPECT_TRUE(sent.empty());
  EXPECT_EQ(dev->counters().tx_dropped_oversize, 1u);
  // The next frame is unaffected.
  std::vector<uint8_t> f = frame_to({0x02, 9, 9, 9, 9, 9}, 64);
  std::memcpy(mem(kBuf), f.data(), f.size());
  put_tx_legacy(kRing, 2, kBuf, 64, TXD_CMD_EOP);
  wr(TDT, 3);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0], f);
}

TEST_F(E1000Test, TxDisabledDoesNothingUntilEnabled) {
  setup_tx(kRing, 8);
  wr(TCTL, 0);
  std::vector<uint8_t> f = frame_to({0x02, 9, 9, 9, 9, 9}, 64);
  std::memcpy(mem(kBuf), f.data(), f.size());
  put_tx_legacy(kRing, 0, kBuf, 64, TXD_CMD_EOP);
  wr(TDT, 1);
  EXPECT_TRUE(sent.empty());
  wr(TCTL, TCTL_EN);
  EXPECT_EQ(sent.size(), 1u);
}

}  // namespace
}  // namespace side::e1000::test
