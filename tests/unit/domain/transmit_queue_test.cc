// The transmit queue alone (no kernel-API layer or module): batches as the optimisation says, frames handed to the
// driver in order and whole from the ring's slots, a refused frame first in line and a stopped queue holding every
// frame until woken, the private ring's limit, and the channel's ring as the supervisor fills it.
#include "domain/transmit_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "ipc/channel.h"
#include "ipc/codec.h"

namespace side::domain {
namespace {

std::vector<uint8_t> frame(uint8_t tag, size_t len) {
  std::vector<uint8_t> f(len);
  for (size_t i = 0; i < len; ++i) f[i] = static_cast<uint8_t>(tag + i * 7);
  return f;
}

// The fake driver: what its transmit was handed. It says busy (its queue is stopped) when handed frame number
// g_stop_at (counting from 0), until the test changes it.
struct Sent {
  uint64_t netdev;
  std::vector<uint8_t> data;
  bool more;
  std::optional<side_tx_offload> offload;
};
std::vector<Sent> g_sent;
long g_stop_at = -1;

int fake_xmit(uint64_t netdev, const void* data, uint32_t len, int more, const side_tx_offload* offload) {
  if (static_cast<long>(g_sent.size()) == g_stop_at) return 1;
  const auto* p = static_cast<const uint8_t*>(data);
  g_sent.push_back({netdev, std::vector<uint8_t>(p, p + len), more != 0,
                    offload ? std::optional<side_tx_offload>(*offload) : std::nullopt});
  return 0;
}

void reset_driver(long stop_at = -1) {
  g_sent.clear();
  g_stop_at = stop_at;
}

TEST(TransmitQueue, BatchesOf64InOrderWithMoreSetButOnTheLast) {
  reset_driver();
  TransmitQueue q(true);
  for (uint8_t i = 0; i < 70; ++i) ASSERT_TRUE(q.push(7, frame(i, 60 + i)));
  ASSERT_TRUE(q.ready());
  q.submit(fake_xmit);
  ASSERT_EQ(g_sent.size(), 64u);
  for (size_t i = 0; i < 63; ++i) EXPECT_TRUE(g_sent[i].more) << i;
  EXPECT_FALSE(g_sent[63].more) << "the batch ends here: the driver writes its tail";
  EXPECT_TRUE(q.ready()) << "six frames wait: another round is due";
  q.submit(fake_xmit);
  ASSERT_EQ(g_sent.size(), 70u);
  EXPECT_TRUE(g_sent[68].more);
  EXPECT_FALSE(g_sent[69].more) << "nothing follows";
  for (uint8_t i = 0; i < 70; ++i) {
    EXPECT_EQ(g_sent[i].netdev, 7u);
    EXPECT_EQ(g_sent[i].data, frame(i, 60 + i));
  }
  EXPECT_FALSE(q.ready());
}

TEST(TransmitQueue, UnbatchedTakesOneFrameARound) {
  reset_driver();
  TransmitQueue q(false);
  for (uint8_t i = 0; i < 3; ++i) ASSERT_TRUE(q.push(7, frame(i, 60)));
  q.submit(fake_xmit);
  ASSERT_EQ(g_sent.size(), 1u);
  EXPECT_FALSE(g_sent[0].more) << "a batch of one: the driver writes its tail for each frame";
  EXPECT_TRUE(q.ready()) << "more wait: another round is due";
}

TEST(TransmitQueue, StoppedQueueHoldsTheRefusedFrameFirstUntilWoken) {
  reset_driver(2);
  TransmitQueue q(true);
  for (uint8_t i = 0; i < 5; ++i) ASSERT_TRUE(q.push(1, frame(i, 100)));
  q.submit(fake_xmit);
  ASSERT_EQ(g_sent.size(), 2u) << "stopped on the third frame";
  EXPECT_FALSE(q.ready()) << "frames wait, but the queue is stopped: no round is due";
  g_stop_at = -1;
  q.submit(fake_xmit);
  EXPECT_EQ(g_sent.size(), 2u) << "a stopped queue hands nothing to the driver";
  q.wake();
  ASSERT_TRUE(q.ready());
  q.submit(fake_xmit);
  ASSERT_EQ(g_sent.size(), 5u);
  for (uint8_t i = 0; i < 5; ++i) EXPECT_EQ(g_sent[i].data, frame(i, 100)) << "in order, the refused frame first";
  EXPECT_FALSE(q.ready());
}

TEST(TransmitQueue, RefusesFramesPastItsLimit) {
  TransmitQueue q(true);
  size_t taken = 0;
  while (q.push(1, std::vector<uint8_t>{0}) && taken < 100'000) ++taken;
  EXPECT_EQ(taken, 4096u);
}

TEST(TransmitQueue, FramesOfEverySizeAcrossTheRingsEndArriveWhole) {
  reset_driver();
  TransmitQueue q(true);
  std::vector<std::vector<uint8_t>> expected;
  // Jumbo and small frames in turn, many times round the private ring.
  for (int round = 0; round < 3000; ++round) {
    const size_t len = round % 7 == 0 ? 9000 + round % 500 : 60 + (round * 37) % 1455;
    auto f = frame(static_cast<uint8_t>(round), len);
    if (!q.push(2, f)) {
      q.submit(fake_xmit);
      ASSERT_TRUE(q.push(2, f)) << "a drained queue takes a frame";
    }
    expected.push_back(std::move(f));
  }
  while (q.ready()) q.submit(fake_xmit);
  ASSERT_EQ(g_sent.size(), expected.size());
  for (size_t i = 0; i < g_sent.size(); ++i) ASSERT_EQ(g_sent[i].data, expected[i]) << "frame " << i;
}

// TCP segmentation offload: 64 KiB packets, with their offload, between plain frames, many times round the ring
// (across its end too); the driver is handed the offload with each packet that has one, and none with the others.
TEST(TransmitQueue, SegmentationOffloadPacketsArriveWholeWithTheirOffload) {
  reset_driver();
  TransmitQueue q(true);
  side_tx_offload tso{};
  tso.flags = SIDE_TX_NEEDS_CSUM;
  tso.gso_type = SIDE_TX_GSO_TCPV4;
  tso.gso_size = 1448;
  tso.csum_start = 34;
  tso.csum_offset = 16;
  std::vector<std::vector<uint8_t>> expected;
  for (int round = 0; round < 600; ++round) {
    const bool big = round % 3 == 0;
    auto f = frame(static_cast<uint8_t>(round), big ? SIDE_MAX_GSO_FRAME - round % 100 : 60 + round % 1400);
    if (!q.push(3, f, big ? tso : side_tx_offload{})) {
      q.submit(fake_xmit);
      ASSERT_TRUE(q.push(3, f, big ? tso : side_tx_offload{})) << "a drained queue takes a packet";
    }
    expected.push_back(std::move(f));
  }
  while (q.ready()) q.submit(fake_xmit);
  ASSERT_EQ(g_sent.size(), expected.size());
  for (size_t i = 0; i < g_sent.size(); ++i) {
    ASSERT_EQ(g_sent[i].data, expected[i]) << "packet " << i;
    ASSERT_EQ(g_sent[i].offload.has_value(), i % 3 == 0) << "packet " << i;
    if (g_sent[i].offload) {
      EXPECT_EQ(std::memcmp(&*g_sent[i].offload, &tso, sizeof tso), 0) << "packet " << i;
    }
  }
  // Larger than any offload packet, or an offload no header can name: refused.
  EXPECT_FALSE(q.push(3, std::vector<uint8_t>(SIDE_MAX_GSO_FRAME + 1), tso));
  side_tx_offload bad = tso;
  bad.flags = 0;
  EXPECT_FALSE(q.push(3, frame(1, 100), bad));
}

TEST(TransmitQueue, TheChannelsRingIsFedByTheSupervisorAndMalformedMessagesAreDropped) {
  reset_driver();
  const uint32_t slots = ipc::kTxRing.slots, slot = ipc::kTxRing.slot_size;
  auto mem = std::make_unique<uint8_t[]>(ipc::Ring::bytes_needed(slots, slot));
  ipc::Ring supervisor = ipc::kTxRing.make(mem.get()), domain = ipc::kTxRing.make(mem.get());
  supervisor.initialize();
  TransmitQueue q(true, &domain);
  EXPECT_FALSE(q.push(1, frame(0, 60))) << "the supervisor is the producer";
  side_msg wrong{};
  wrong.type = SIDE_MSG_RX_FRAME;
  ASSERT_TRUE(supervisor.push(wrong, frame(1, 60)));
  ASSERT_TRUE(ipc::push<ipc::TxFrame>(supervisor, {9, {}}, frame(2, 60)));
  q.submit(fake_xmit);
  ASSERT_EQ(g_sent.size(), 1u);
  EXPECT_EQ(g_sent[0].netdev, 9u);
  EXPECT_EQ(g_sent[0].data, frame(2, 60));
  EXPECT_FALSE(q.ready());
}

}  // namespace
}  // namespace side::domain
