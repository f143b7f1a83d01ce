#include "ipc/codec.h"

#include <gtest/gtest.h>

#include <type_traits>
#include <vector>

namespace side::ipc {
namespace {

// Arguments every declaration accepts, with a recognisable value in the first word.
template <class M>
typename M::Args sample_args() {
  typename M::Args a{};
  if constexpr (std::is_same_v<M, Inject>) a.type = SIDE_INJECT_ALLOC;
  if constexpr (std::is_same_v<M, Fault>) a.kind = SIDE_FAULT_BUG;
  if constexpr (std::is_same_v<typename M::Args, DmaArgs>) a.size = 4096;
  if constexpr (requires { a.width; }) a.width = 4;
  if constexpr (requires { a.level; }) a.level = 6;
  if constexpr (M::kTarget == Target::kNetdev || M::kTarget == Target::kPdev) a.target = 0x1234'5678'9abc;
  return a;
}

template <class M>
std::vector<uint8_t> sample_payload() {
  using P = typename M::Payload;
  if constexpr (std::is_same_v<P, NoPayload>) {
    return {};
  } else if constexpr (requires { typename P::Type; }) {
    return std::vector<uint8_t>(sizeof(typename P::Type), 0);
  } else {
    return std::vector<uint8_t>(P::kUnit * 2, 0x5a);
  }
}

TEST(Codec, EveryMessageRoundTrips) {
  for_each_message(AllMessages{}, [](auto m) {
    using M = decltype(m);
    SCOPED_TRACE(M::kName);
    const auto args = sample_args<M>();
    const auto payload = sample_payload<M>();
    auto h = encode<M>(args, payload, 77);
    ASSERT_TRUE(h) << h.error().message;
    EXPECT_EQ(h->type, M::kType);
    auto d = decode<M>(*h, payload);
    ASSERT_TRUE(d) << d.error().message;
    EXPECT_EQ(d->cookie, 77u);
    // An empty Args (no arguments) has one byte that holds no value: nothing to compare.
    if constexpr (!std::is_empty_v<typename M::Args>) {
      EXPECT_EQ(std::memcmp(&d->args, &args, sizeof args), 0);
    }
    auto bytes = PayloadTraits<typename M::Payload>::bytes(d->payload);
    EXPECT_EQ(std::vector<uint8_t>(bytes.begin(), bytes.end()), payload);
    EXPECT_TRUE(decodes<AllMessages>(*h, payload));
  });
}

TEST(Codec, EveryWrongPayloadSizeIsRefused) {
  for_each_message(AllMessages{}, [](auto m) {
    using M = decltype(m);
    using P = typename M::Payload;
    SCOPED_TRACE(M::kName);
    const auto h = header<M>(sample_args<M>());
    std::vector<std::vector<uint8_t>> wrong;
    if constexpr (std::is_same_v<P, NoPayload>) {
      wrong = {std::vector<uint8_t>(1), std::vector<uint8_t>(64)};
    } else if constexpr (requires { typename P::Type; }) {
      const size_t n = sizeof(typename P::Type);
      wrong = {{}, std::vector<uint8_t>(n - 1), std::vector<uint8_t>(n + 1)};
    } else {
      if constexpr (P::kMax < (1u << 20)) wrong.emplace_back(P::kMax + P::kUnit);
      if constexpr (P::kUnit > 1) wrong.emplace_back(P::kUnit + 1);
    }
    for (const auto& p : wrong) {
      EXPECT_FALSE(decode<M>(h, p)) << p.size() << " bytes";
      EXPECT_FALSE(encode<M>(sample_args<M>(), p)) << p.size() << " bytes";
    }
  });
}

TEST(Codec, AMessageOfAnotherTypeIsRefused) {
  auto h = header<Open>({1});
  EXPECT_FALSE(decode<Close>(h, {}));
  h.type = 999;
  EXPECT_FALSE(decodes<AllMessages>(h, {}));
}

// Each declared range, one value past it.
template <class M>
void expect_refused(typename M::Args a, std::span<const uint8_t> payload = {}) {
  SCOPED_TRACE(M::kName);
  EXPECT_FALSE(encode<M>(a, payload));
  EXPECT_FALSE(decode<M>(header<M>(a), payload));
}

TEST(Codec, EveryOutOfRangeArgumentIsRefused) {
  expect_refused<Inject>({0, 1});
  expect_refused<Inject>({SIDE_INJECT_ALLOC_FAILED + 1, 1});
  expect_refused<Probe>({uint64_t{1} << 32});
  expect_refused<SetRxMode>({1, 4});
  expect_refused<Carrier>({1, 2});
  expect_refused<Log>({8});
  expect_refused<Fault>({SIDE_FAULT_NONE, 0});
  expect_refused<Fault>({SIDE_FAULT_KIND_COUNT, 0});
  expect_refused<RxFrame>({1, 4});
  expect_refused<ConfigRead>({0, 0, 3});
  expect_refused<ConfigWrite>({0, 0, 8, 0});
  expect_refused<BarRead>({0, 6, 0, 4});
  expect_refused<BarRead>({0, 0, 0, 16});
  expect_refused<BarWrite>({0, 0xffffffff, 0, 4, 0});
  for (int32_t dir : {-1, 3}) {
    expect_refused<DmaMap>({0, dir, 0x1000, 64});
    expect_refused<DmaUnmapPosted>({0, dir, 0x1000, 64});
  }
  expect_refused<DmaMapPosted>({0, SIDE_DMA_TO_DEVICE, 0x1000, 0});
  side_pci_device_info info{};
  info.device = 2;
  expect_refused<AttachDevice>({3}, PayloadTraits<AttachDevice::Payload>::bytes(info));
}

TEST(Codec, RepliesAreCheckedAgainstTheOperation) {
  side_netdev_stats stats{};
  stats.rx_packets = 5;
  auto ok = decode_reply<Stats>(0, PayloadTraits<Stats::Reply>::bytes(stats));
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->rx_packets, 5u);
  EXPECT_FALSE(decode_reply<Stats>(0, std::vector<uint8_t>(sizeof stats - 8)));
  EXPECT_FALSE(decode_reply<Open>(0, std::vector<uint8_t>(1)));
  EXPECT_TRUE(decode_reply<Open>(0, {}));
  // A refusal's text arrives sanitized.
  const std::string why = "no\x1b[31m";
  auto refused = decode_reply<Open>(-22, std::span(reinterpret_cast<const uint8_t*>(why.data()), why.size()));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message.find('\x1b'), std::string::npos);
  // Strings in a structure are terminated, whatever the domain sent.
  side_ethtool_info info;
  std::memset(&info, 'A', sizeof info);
  auto e = decode_reply<Ethtool>(0, PayloadTraits<Ethtool::Reply>::bytes(info));
  ASSERT_TRUE(e);
  EXPECT_LT(std::strlen(e->driver), sizeof e->driver);
}

TEST(Codec, DeclarationsDriveRecovery) {
  EXPECT_EQ(control_op_info(SIDE_MSG_SET_MTU).replay, Replay::kRecord);
  EXPECT_EQ(control_op_info(SIDE_MSG_CLOSE).replay, Replay::kErase);
  EXPECT_EQ(control_op_info(SIDE_MSG_CLOSE).replay_slot, SIDE_MSG_OPEN);
  EXPECT_EQ(control_op_info(SIDE_MSG_STATS).replay, Replay::kNo);
  EXPECT_TRUE(control_op_info(SIDE_MSG_PROBE).mints_pdev);
  EXPECT_FALSE(control_op_info(SIDE_MSG_ATTACH_DEVICE).mints_pdev);
  EXPECT_EQ(control_op_info(12345).type, 0);
}

TEST(Codec, ARingCarriesEncodedMessages) {
  std::vector<uint8_t> shared(Ring::bytes_needed(4, 128));
  Ring ring(shared.data(), 4, 128);
  ring.initialize();
  EXPECT_FALSE(push<BarRead>(ring, {0, 7, 0, 4}));  // refused before it is sent
  ASSERT_TRUE(push<BarRead>(ring, {1, 2, 0x10, 4}, {}, 9));
  side_msg h{};
  uint8_t none[1];
  ASSERT_EQ(ring.pop(h, std::span(none, 0)), 0);
  auto d = decode<BarRead>(h, {});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->args.bar, 2u);
  EXPECT_EQ(d->args.offset, 0x10u);
  EXPECT_EQ(d->cookie, 9u);
}

}  // namespace
}  // namespace side::ipc
