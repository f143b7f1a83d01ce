#include "domain/tx_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace side::domain {
namespace {

std::vector<uint8_t> frame(uint8_t tag, size_t len) {
  std::vector<uint8_t> f(len);
  for (size_t i = 0; i < len; ++i) f[i] = static_cast<uint8_t>(tag + i * 7);
  return f;
}

struct Sent {
  uint64_t netdev;
  std::vector<uint8_t> data;
  bool more;
};

// The driver's view: what xmit was handed, and whether it took it (0) or its queue was stopped (1).
auto recorder(std::vector<Sent>& out, int stop_at = -1) {
  return [&out, stop_at](uint64_t netdev, std::span<const uint8_t> f, bool more) {
    if (static_cast<int>(out.size()) == stop_at) return 1;
    out.push_back({netdev, {f.begin(), f.end()}, more});
    return 0;
  };
}

TEST(TxQueue, FramesGoToTheDriverInOrderInBatchesWithMoreSetButOnTheLast) {
  TxQueue q;
  for (uint8_t i = 0; i < 5; ++i) ASSERT_TRUE(q.submit(7, frame(i, 60 + i)));
  std::vector<Sent> sent;
  EXPECT_FALSE(q.transmit(3, recorder(sent)));
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_TRUE(sent[0].more);
  EXPECT_TRUE(sent[1].more);
  EXPECT_FALSE(sent[2].more) << "the batch ends here: the driver writes its tail";
  EXPECT_FALSE(q.transmit(3, recorder(sent)));
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_TRUE(sent[3].more);
  EXPECT_FALSE(sent[4].more) << "nothing follows";
  for (uint8_t i = 0; i < 5; ++i) {
    EXPECT_EQ(sent[i].netdev, 7u);
    EXPECT_EQ(sent[i].data, frame(i, 60 + i));
  }
  EXPECT_TRUE(q.empty());
}

TEST(TxQueue, AFrameTheStoppedDriverRefusedStaysFirst) {
  TxQueue q;
  for (uint8_t i = 0; i < 3; ++i) ASSERT_TRUE(q.submit(1, frame(i, 100)));
  std::vector<Sent> sent;
  EXPECT_TRUE(q.transmit(64, recorder(sent, 1))) << "stopped on the second frame";
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_FALSE(q.empty());
  EXPECT_FALSE(q.transmit(64, recorder(sent)));
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[1].data, frame(1, 100)) << "the refused frame is sent again, first";
  EXPECT_EQ(sent[2].data, frame(2, 100));
}

TEST(TxQueue, FramesOfEverySizeAcrossTheRingsEndArriveWhole) {
  TxQueue q;
  std::vector<Sent> sent;
  std::vector<std::vector<uint8_t>> expected;
  // Jumbo and small frames in turn, many times round the private ring.
  for (int round = 0; round < 3000; ++round) {
    const size_t len = round % 7 == 0 ? 9000 + round % 500 : 60 + (round * 37) % 1455;
    auto f = frame(static_cast<uint8_t>(round), len);
    if (!q.submit(2, f)) {
      EXPECT_FALSE(q.transmit(64, recorder(sent)));
      ASSERT_TRUE(q.submit(2, f)) << "a drained queue takes a frame";
    }
    expected.push_back(std::move(f));
  }
  while (!q.empty()) EXPECT_FALSE(q.transmit(64, recorder(sent)));
  ASSERT_EQ(sent.size(), expected.size());
  for (size_t i = 0; i < sent.size(); ++i) ASSERT_EQ(sent[i].data, expected[i]) << "frame " << i;
}

TEST(TxQueue, TheChannelsRingIsFedByTheSupervisorAndMalformedMessagesAreDropped) {
  const uint32_t slots = ipc::kTxRing.slots, slot = ipc::kTxRing.slot_size;
  auto mem = std::make_unique<uint8_t[]>(ipc::Ring::bytes_needed(slots, slot));
  ipc::Ring supervisor = ipc::kTxRing.make(mem.get()), domain = ipc::kTxRing.make(mem.get());
  supervisor.initialize();
  TxQueue q(domain);
  EXPECT_FALSE(q.submit(1, frame(0, 60))) << "the supervisor is the producer";
  side_msg wrong{};
  wrong.type = SIDE_MSG_RX_FRAME;
  ASSERT_TRUE(supervisor.push(wrong, frame(1, 60)));
  ASSERT_TRUE(ipc::push<ipc::TxFrame>(supervisor, {9}, frame(2, 60)));
  std::vector<Sent> sent;
  EXPECT_FALSE(q.transmit(64, recorder(sent)));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].netdev, 9u);
  EXPECT_EQ(sent[0].data, frame(2, 60));
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace side::domain
