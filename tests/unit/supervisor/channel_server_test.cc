// The supervisor's end of a channel with DMA address pre-translation: posted DMA permission changes take effect
// before any later device request, whichever ring carried it and however full the event ring was; a posted change
// the supervisor refuses is the driver's fault.
#include "supervisor/channel_server.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "common/log.h"
#include "domain/layout.h"
#include "ipc/codec.h"
#include "supervisor/machine.h"
#include "support/memory_domain.h"

namespace side::supervisor {
namespace {

constexpr uint64_t kBase = domain::kArenaPhysBase;
constexpr uint32_t kTctl = 0x400, kTdbal = 0x3800, kTdlen = 0x3808, kTdt = 0x3818;

class ChannelServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    base_ = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(memory_.data()) + 63) & ~uintptr_t{63});
    auto c = ipc::Channel::attach(base_, ipc::Channel::size_needed(), true);
    ASSERT_TRUE(c);
    channel_.emplace(std::move(*c));
    auto d = machine_.add_device(*side::devices::find_device_model("e1000"));
    ASSERT_TRUE(d);
    dev_ = *d;
    machine_.nic(dev_)->set_frame_sink(
        [this](std::span<const uint8_t> f) { frames_.emplace_back(f.begin(), f.end()); });
    ASSERT_TRUE(machine_.config_write(dev_, 4, 2, 0x6));
    server_.emplace(*channel_,
                    ChannelServer::Handlers{[this](uint16_t, uint64_t, int64_t status, std::span<const uint8_t> p) {
                                              // As the requester takes it (DriverDomain::call).
                                              auto r = ipc::decode_reply<ipc::Inject>(status, p);
                                              replies_.push_back(r ? *r : r.error().message);
                                            },
                                            [this](int kind, std::string message, std::string) {
                                              faults_.emplace_back(kind, std::move(message));
                                            }});
    server_->set_platform(&machine_);
  }
  void post_dma(uint16_t type, uint64_t phys, uint64_t size, int dir) {
    const ipc::DmaArgs a{dev_, dir, phys, size};
    ASSERT_TRUE(type == SIDE_MSG_DMA_MAP_POSTED ? ipc::push<ipc::DmaMapPosted>(channel_->events(), a)
                                                : ipc::push<ipc::DmaUnmapPosted>(channel_->events(), a));
  }
  void bar_write(unsigned cpu, uint64_t offset, uint64_t value) {
    ASSERT_TRUE(ipc::push<ipc::BarWrite>(channel_->device(cpu), {dev_, 0, offset, 4, value}));
  }

  std::vector<uint8_t> memory_ = std::vector<uint8_t>(ipc::Channel::size_needed() + 64);
  void* base_ = nullptr;
  std::optional<ipc::Channel> channel_;
  side::testing::MemoryDomain domain_;
  Machine machine_{domain_};
  uint32_t dev_ = 0;
  std::optional<ChannelServer> server_;
  std::vector<std::vector<uint8_t>> frames_;
  std::vector<std::pair<int, std::string>> faults_;
  std::vector<std::string> replies_;
};

TEST_F(ChannelServerTest, PostedMappingsPrecedeTheRegisterWriteThatStartsDma) {
  const uint64_t ring = kBase + 0x10000, buffer = kBase + 0x20000;
  // More events than one drain takes from the event ring, so the mappings are still queued when the device ring's
  // tail write comes up: the server must apply them first.
  for (int i = 0; i < ChannelServer::kBatch + 10; ++i) {
    side_msg log{};
    log.type = SIDE_MSG_LOG;
    ASSERT_TRUE(channel_->events().push(log));
  }
  post_dma(SIDE_MSG_DMA_MAP_POSTED, ring, 8 * 16, SIDE_DMA_BIDIRECTIONAL);
  post_dma(SIDE_MSG_DMA_MAP_POSTED, buffer, 60, SIDE_DMA_TO_DEVICE);
  uint8_t* d = domain_.at(ring);
  std::memcpy(d, &buffer, 8);
  d[8] = 60;
  d[11] = 0x1 | 0x8;  // EOP | RS
  for (int i = 0; i < 60; ++i) domain_.at(buffer)[i] = static_cast<uint8_t>(0xa0 + i);
  bar_write(2, kTdbal, ring & 0xffffffff);  // another vCPU's ring than the one that mapped
  bar_write(2, kTdlen, 8 * 16);
  bar_write(2, kTctl, 0x2);
  bar_write(2, kTdt, 1);
  server_->drain();
  ASSERT_EQ(frames_.size(), 1u);
  ASSERT_EQ(frames_[0].size(), 60u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(frames_[0][i], 0xa0 + i);
  EXPECT_TRUE(faults_.empty());
  EXPECT_TRUE(domain_.reported.empty());
  EXPECT_EQ(machine_.dma(dev_).live_mappings(), 2u);

  post_dma(SIDE_MSG_DMA_UNMAP_POSTED, buffer, 60, SIDE_DMA_TO_DEVICE);
  post_dma(SIDE_MSG_DMA_UNMAP_POSTED, ring, 8 * 16, SIDE_DMA_BIDIRECTIONAL);
  while (server_->drain()) {
  }
  EXPECT_EQ(machine_.dma(dev_).live_mappings(), 0u);
  EXPECT_TRUE(faults_.empty());
}

TEST_F(ChannelServerTest, ARefusedPostedChangeIsTheDriversFault) {
  post_dma(SIDE_MSG_DMA_UNMAP_POSTED, kBase + 0x4000, 64, SIDE_DMA_FROM_DEVICE);  // never mapped
  post_dma(SIDE_MSG_DMA_MAP_POSTED, 0x1000, 64, SIDE_DMA_TO_DEVICE);              // not the domain's memory
  while (server_->drain()) {
  }
  ASSERT_EQ(faults_.size(), 2u);
  EXPECT_EQ(faults_[0].first, SIDE_FAULT_BAD_ARGUMENT);
  EXPECT_NE(faults_[0].second.find("DMA unmapping"), std::string::npos) << faults_[0].second;
  EXPECT_EQ(faults_[1].first, SIDE_FAULT_BAD_ARGUMENT);
  EXPECT_NE(faults_[1].second.find("DMA mapping"), std::string::npos) << faults_[1].second;
  EXPECT_EQ(machine_.dma(dev_).live_mappings(), 0u);
}

// Device requests of different vCPUs reach the device in the order the domain issued them (their cookies), not
// ring by ring: a register write vCPU 1 made under a lock comes before the read vCPU 0 made after taking it, even
// when vCPU 0's ring is served first. Before, the read overtook the write and returned the register's old value
// (e100's "previous command accepted" check, vmxnet3's command register read back under its cmd_lock).
TEST_F(ChannelServerTest, RequestsOfDifferentVcpusKeepTheDomainsOrder) {
  ASSERT_TRUE(ipc::push<ipc::BarWrite>(channel_->device(1), {dev_, 0, kTdlen, 4, 0x1000}, {}, 41));
  ASSERT_TRUE(ipc::push<ipc::BarRead>(channel_->device(0), {dev_, 0, kTdlen, 4}, {}, 42));
  ASSERT_TRUE(ipc::push<ipc::BarWrite>(channel_->device(2), {dev_, 0, kTdlen, 4, 0x2000}, {}, 43));
  ASSERT_TRUE(ipc::push<ipc::BarRead>(channel_->device(1), {dev_, 0, kTdlen, 4}, {}, 44));
  while (server_->drain()) {
  }
  EXPECT_TRUE(faults_.empty());
  for (auto [cpu, cookie, value] : {std::tuple{0u, 42u, 0x1000u}, std::tuple{1u, 44u, 0x2000u}}) {
    side_msg reply{};
    ASSERT_GE(channel_->reply(cpu).pop(reply, {}), 0) << "vCPU " << cpu;
    auto answer = ipc::decode<ipc::DeviceReply>(reply, {});
    ASSERT_TRUE(answer) << answer.error().message;
    EXPECT_EQ(answer->cookie, cookie);
    EXPECT_EQ(answer->args.status, 0);
    EXPECT_EQ(answer->args.value, value) << "the read of vCPU " << cpu << " overtook an earlier write";
  }
}

// A device request of a type that does not exist is a protocol fault also before any device is attached (it used
// to be answered ENODEV, as a real request for a missing device is, and never reported).
TEST_F(ChannelServerTest, AnUnknownDeviceRequestIsAFaultWithOrWithoutADevice) {
  for (domain::Platform* platform :
       {static_cast<domain::Platform*>(&machine_), static_cast<domain::Platform*>(nullptr)}) {
    faults_.clear();
    server_->set_platform(platform);
    side_msg m{};
    m.type = 0x7777;
    m.cookie = 1;
    ASSERT_TRUE(channel_->device(2).push(m));
    while (server_->drain()) {
    }
    ASSERT_EQ(faults_.size(), 1u) << (platform ? "with" : "without") << " a device";
    EXPECT_EQ(faults_[0].first, SIDE_FAULT_PROTOCOL);
    EXPECT_NE(faults_[0].second.find("unknown device request 30583"), std::string::npos) << faults_[0].second;
    side_msg reply{};
    ASSERT_GE(channel_->reply(2).pop(reply, {}), 0);
    auto answer = ipc::decode<ipc::DeviceReply>(reply, {});
    ASSERT_TRUE(answer) << answer.error().message;
    EXPECT_EQ(answer->args.status, -EINVAL);
  }
}

// Strings a hostile domain hands over through the channel reach the supervisor sanitized: the escape sequences,
// C1 controls (8-bit and UTF-8 encoded), bidi overrides and line breaks a terminal would act on become visible
// escapes, in log lines, fault messages and locations, device names and error payloads.
constexpr char kHostile[] = "x\x1b]0;title\x07\x1b[2J\xc2\x9b\x9b\xe2\x80\xae\nside: forged\r\xff";
constexpr char kEscaped[] = "x\\x1b]0;title\\x07\\x1b[2J\\u009b\\x9b\\u202e\\x0aside: forged\\x0d\\xff";

bool terminal_safe(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return s.find("\xc2\x9b") == std::string::npos && s.find("\xe2\x80\xae") == std::string::npos;
}

TEST_F(ChannelServerTest, LogLinesArePrefixedSanitizedAndRateLimited) {
  std::vector<std::string> lines;
  LogSink previous = set_log_sink([&](LogLevel, std::string_view l) { lines.emplace_back(l); });
  server_->set_log_label("e1000 dom 42");
  const side_msg log = ipc::header<ipc::Log>({6});
  const std::string hostile = kHostile;
  for (int i = 0; i < 500; ++i) {  // a flood: more than the event ring holds at once, refilled as it drains
    while (!channel_->events().push(log, std::span(reinterpret_cast<const uint8_t*>(hostile.data()), hostile.size())))
      server_->drain();
  }
  while (server_->drain()) {
  }
  set_log_sink(std::move(previous));
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0], std::string("[e1000 dom 42] ") + kEscaped);
  EXPECT_LE(lines.size(), static_cast<size_t>(DomainLog::kBurst) + 20);  // the burst, not the flood
  for (const auto& l : lines) {
    EXPECT_EQ(l.rfind("[e1000 dom 42] ", 0), 0u) << l;
    EXPECT_TRUE(terminal_safe(l)) << l;
  }
}

TEST_F(ChannelServerTest, FaultMessagesNamesAndErrorPayloadsAreSanitized) {
  const std::string hostile = kHostile;
  const side_msg fault = ipc::header<ipc::Fault>({SIDE_FAULT_BUG, 0});
  const std::string both = hostile + std::string(1, '\0') + hostile + std::string(1, '\0');
  ASSERT_TRUE(channel_->events().push(fault, std::span(reinterpret_cast<const uint8_t*>(both.data()), both.size())));
  const side_msg reply = ipc::header<ipc::ControlReply>({-22}, 1);
  ASSERT_TRUE(
      channel_->events().push(reply, std::span(reinterpret_cast<const uint8_t*>(hostile.data()), hostile.size())));
  side_netdev_info info{};
  info.token = 5;
  std::memcpy(info.name, "e\x1b[2J\xc2\x9b\n", 9);
  info.mac[0] = 0x52;
  info.mtu = 1500;
  info.device = ~0u;
  side_msg reg{};
  reg.type = SIDE_MSG_NETDEV_REGISTER;
  ASSERT_TRUE(channel_->events().push(reg, std::span(reinterpret_cast<const uint8_t*>(&info), sizeof info)));
  while (server_->drain()) {
  }
  ASSERT_EQ(faults_.size(), 1u);
  EXPECT_EQ(faults_[0].second, kEscaped);
  ASSERT_EQ(replies_.size(), 1u);
  EXPECT_EQ(replies_[0], kEscaped);
  auto netdevs = machine_.netdevs();
  ASSERT_EQ(netdevs.size(), 1u);
  EXPECT_TRUE(terminal_safe(netdevs[0].info.name)) << netdevs[0].info.name;
  EXPECT_EQ(std::string(netdevs[0].info.name).substr(0, 5), "e\\x1b");
}

}  // namespace
}  // namespace side::supervisor

namespace side::supervisor {
namespace {

// The host side of a network device, as a frame receiver sees frames.
struct Frames : NetListener {
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> got;
  void rx(uint64_t token, std::span<const uint8_t> frame, uint32_t) override {
    got.emplace_back(token, std::vector<uint8_t>(frame.begin(), frame.end()));
  }
};

// A received frame goes from the receive ring straight to the host side of the device (its frame receiver), not
// through the machine; without a receiver it still reaches the machine's listener. Either way, intact.
TEST_F(ChannelServerTest, ReceivedFramesGoStraightToTheFrameReceiver) {
  Frames direct, via_machine;
  machine_.set_listener(&via_machine);
  const std::vector<uint8_t> frame{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  ASSERT_TRUE(ipc::push<ipc::RxFrame>(channel_->rx(), {42, 0}, frame));
  EXPECT_TRUE(server_->drain());
  ASSERT_EQ(via_machine.got.size(), 1u);
  server_->set_frame_receiver(&direct);
  ASSERT_TRUE(ipc::push<ipc::RxFrame>(channel_->rx(), {43, 1}, frame));
  EXPECT_TRUE(server_->drain());
  EXPECT_EQ(via_machine.got.size(), 1u) << "the machine is not on the data path any more";
  ASSERT_EQ(direct.got.size(), 1u);
  EXPECT_EQ(direct.got[0].first, 43u);
  EXPECT_EQ(direct.got[0].second, frame);
  EXPECT_TRUE(faults_.empty());
  machine_.set_listener(nullptr);
}

// Block completions reach the machine's block listener with the tag and status the domain sent; one whose status no
// kernel reports (positive, or beyond -4095) does not decode and is the domain's protocol fault, never a completion.
TEST_F(ChannelServerTest, BlockCompletionsReachTheListenerAndAnImpossibleStatusIsAFault) {
  struct Listener final : BlockListener {
    std::vector<std::pair<uint64_t, int32_t>> got;
    void block_done(uint64_t tag, int32_t status) override { got.emplace_back(tag, status); }
  } listener;
  machine_.set_block_listener(&listener);
  ASSERT_TRUE(ipc::push<ipc::BlockDone>(channel_->events(), {7, 0}));
  ASSERT_TRUE(ipc::push<ipc::BlockDone>(channel_->events(), {8, -EIO}));
  EXPECT_FALSE(ipc::push<ipc::BlockDone>(channel_->events(), {9, 5})) << "the codec refuses to encode it";
  for (int32_t status : {5, -5000}) {
    side_msg m{};
    m.type = SIDE_MSG_BLOCK_DONE;
    const ipc::BlockDone::Args forged{9, status};
    std::memcpy(m.body, &forged, sizeof forged);
    ASSERT_TRUE(channel_->events().push(m, {}));
  }
  while (server_->drain()) {
  }
  ASSERT_EQ(listener.got.size(), 2u);
  EXPECT_EQ(listener.got[0], (std::pair<uint64_t, int32_t>{7, 0}));
  EXPECT_EQ(listener.got[1], (std::pair<uint64_t, int32_t>{8, -EIO}));
  ASSERT_EQ(faults_.size(), 2u);
  EXPECT_EQ(faults_[0].first, SIDE_FAULT_PROTOCOL);
  EXPECT_EQ(faults_[1].first, SIDE_FAULT_PROTOCOL);
  machine_.set_block_listener(nullptr);
}

}  // namespace
}  // namespace side::supervisor
