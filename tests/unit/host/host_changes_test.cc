// A hostile driver's changes to the host interface, sent through the channel as a domain would: refused ones never
// reach the interface, and each is reported as a fault of the driver. Uses a TAP in a network namespace of its own.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include "host/host_network.h"
#include "net/netns.h"
#include "net/tap.h"
#include "supervisor/channel_server.h"
#include "supervisor/machine.h"
#include "support/memory_domain.h"

namespace side::host {
using supervisor::ChannelServer;
using supervisor::Machine;
namespace {

constexpr std::array<uint8_t, 6> kMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

class HostChangesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!net::have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN (root) for a TAP and a namespace";
    auto ns = net::NetNamespace::create("side-unit-" + std::to_string(getpid()));
    ASSERT_TRUE(ns) << ns.error().message;
    ns_.emplace(std::move(*ns));
    auto tap = net::Tap::create("side0", ns_->name());
    ASSERT_TRUE(tap) << tap.error().message;
    base_ = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(memory_.data()) + 63) & ~uintptr_t{63});
    auto c = ipc::Channel::attach(base_, ipc::Channel::size_needed(), true);
    ASSERT_TRUE(c);
    channel_.emplace(std::move(*c));
    server_.emplace(*channel_, ChannelServer::Handlers{});
    server_->set_platform(&machine_);
    host_.emplace(domain_, std::move(*tap));
    machine_.set_listener(&*host_);
    info_ = netdev(kMac, 1500);
    send(SIDE_MSG_NETDEV_REGISTER, info_);
    host_->start(info_);
    ASSERT_TRUE(domain_.reported.empty());
  }
  void TearDown() override {
    machine_.set_listener(nullptr);
    host_.reset();
  }
  side_netdev_info netdev(std::array<uint8_t, 6> mac, uint32_t mtu) {
    side_netdev_info i{};
    i.token = 0x77;
    std::strcpy(i.name, "eth0");
    std::memcpy(i.mac, mac.data(), 6);
    i.mtu = mtu;
    i.min_mtu = 68;
    i.max_mtu = 9000;
    i.device = ~0u;
    return i;
  }
  void send(uint16_t type, const side_netdev_info& info) {
    side_msg m{};
    m.type = type;
    ASSERT_TRUE(channel_->events().push(m, std::span(reinterpret_cast<const uint8_t*>(&info), sizeof info)));
    while (server_->drain()) {
    }
  }
  void carrier(bool on) { ASSERT_TRUE(ipc::push<ipc::Carrier>(channel_->events(), {info_.token, on ? 1u : 0u})); }
  std::vector<std::string> faults(int kind) {
    std::lock_guard lock(domain_.mu);
    std::vector<std::string> out;
    for (const auto& [k, message] : domain_.reported) {
      if (k == kind) out.push_back(message);
    }
    return out;
  }

  std::optional<net::NetNamespace> ns_;
  std::vector<uint8_t> memory_ = std::vector<uint8_t>(ipc::Channel::size_needed() + 64);
  void* base_ = nullptr;
  std::optional<ipc::Channel> channel_;
  std::optional<ChannelServer> server_;
  side::testing::MemoryDomain domain_;
  Machine machine_{domain_};
  std::optional<HostInterface> host_;
  side_netdev_info info_{};
};

TEST_F(HostChangesTest, AValidChangeReachesTheInterface) {
  send(SIDE_MSG_NETDEV_CHANGED, netdev({0x02, 0, 0, 0, 0, 1}, 9000));
  EXPECT_TRUE(domain_.reported.empty());
  EXPECT_EQ(*host_->tap().mtu(), 9000u);
  EXPECT_EQ(*host_->tap().mac(), (std::array<uint8_t, 6>{0x02, 0, 0, 0, 0, 1}));
}

TEST_F(HostChangesTest, MulticastAndZeroAddressesAreRefusedAsDriverFaults) {
  send(SIDE_MSG_NETDEV_CHANGED, netdev({0x01, 0x00, 0x5e, 0, 0, 1}, 1500));
  send(SIDE_MSG_NETDEV_CHANGED, netdev({0, 0, 0, 0, 0, 0}, 1500));
  send(SIDE_MSG_NETDEV_CHANGED, netdev({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1500));
  auto f = faults(SIDE_FAULT_BAD_ARGUMENT);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_NE(f[0].find("side0: the driver set a multicast MAC address (01:00:5e:00:00:01)"), std::string::npos);
  EXPECT_NE(f[1].find("all-zero MAC address"), std::string::npos);
  EXPECT_EQ(*host_->tap().mac(), kMac);
  EXPECT_EQ(host_->counters().refused_changes, 3u);
}

TEST_F(HostChangesTest, AnMtuOutsideTheAnnouncedRangeIsRefused) {
  for (uint32_t mtu : {0u, 67u, 9001u, 65535u, 0xffffffffu}) send(SIDE_MSG_NETDEV_CHANGED, netdev(kMac, mtu));
  auto f = faults(SIDE_FAULT_BAD_ARGUMENT);
  ASSERT_EQ(f.size(), 5u);
  EXPECT_NE(f[2].find("MTU 9001, outside 68..9000"), std::string::npos) << f[2];
  EXPECT_EQ(*host_->tap().mtu(), 1500u);
}

TEST_F(HostChangesTest, CarrierFlappingIsCutOffAndReported) {
  for (int i = 0; i < 200; ++i) carrier(i % 2 == 0);
  while (server_->drain()) {
  }
  auto f = faults(SIDE_FAULT_BAD_ARGUMENT);
  ASSERT_FALSE(f.empty());
  EXPECT_NE(f[0].find("changes its interface too often (carrier"), std::string::npos) << f[0];
  // After the burst every other event is refused (the one in between repeats the state the interface has).
  EXPECT_NEAR(static_cast<double>(f.size()), (200 - NetdevGuard::kChangesBurst) / 2, 2);
}

}  // namespace
}  // namespace side::host
