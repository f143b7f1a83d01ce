// What a hostile driver may change on the host interface: no multicast or zero MAC address, no MTU outside what it
// announced and the host carries, no flapping beyond a burst and a low steady rate.
#include "host/netdev_guard.h"

#include <gtest/gtest.h>

#include <cstring>

namespace side::host {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

side_netdev_info info(std::array<uint8_t, 6> mac, uint32_t mtu, uint32_t min_mtu = 68, uint32_t max_mtu = 16110) {
  side_netdev_info i{};
  i.token = 1;
  std::memcpy(i.mac, mac.data(), 6);
  i.mtu = mtu;
  i.min_mtu = min_mtu;
  i.max_mtu = max_mtu;
  return i;
}

constexpr std::array<uint8_t, 6> kGood{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

TEST(NetdevGuard, MulticastBroadcastAndZeroAddressesAreRefused) {
  EXPECT_TRUE(NetdevGuard::valid_mac(kGood.data()));
  const uint8_t multicast[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
  const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const uint8_t zero[6] = {};
  auto m = NetdevGuard::valid_mac(multicast);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("multicast MAC address (01:00:5e:00:00:01)"), std::string::npos);
  EXPECT_FALSE(NetdevGuard::valid_mac(broadcast));
  auto z = NetdevGuard::valid_mac(zero);
  ASSERT_FALSE(z);
  EXPECT_NE(z.error().message.find("all-zero"), std::string::npos);

  NetdevGuard g;
  ASSERT_TRUE(g.registered(info(kGood, 1500)));
  EXPECT_FALSE(g.changed(info({0x03, 1, 2, 3, 4, 5}, 1500), kSecond));
  EXPECT_FALSE(g.changed(info({}, 1500), kSecond));
  EXPECT_TRUE(g.changed(info({0x02, 1, 2, 3, 4, 5}, 1500), kSecond));  // a locally administered unicast: fine
  EXPECT_FALSE(g.registered(info({0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1500)));
}

TEST(NetdevGuard, TheMtuStaysInTheAnnouncedRangeClampedToWhatTheHostCarries) {
  NetdevGuard g;
  ASSERT_TRUE(g.registered(info(kGood, 1500, 68, 9000)));
  EXPECT_EQ(g.min_mtu(), 68u);
  EXPECT_EQ(g.max_mtu(), 9000u);
  EXPECT_TRUE(g.changed(info(kGood, 9000), kSecond));
  auto over = g.changed(info(kGood, 9001), kSecond);
  ASSERT_FALSE(over);
  EXPECT_NE(over.error().message.find("MTU 9001, outside 68..9000"), std::string::npos);
  EXPECT_FALSE(g.changed(info(kGood, 67), kSecond));
  EXPECT_FALSE(g.changed(info(kGood, 0), kSecond));
  EXPECT_FALSE(g.changed(info(kGood, 0xffffffffu), kSecond));

  // A driver announcing more than the rings and the TAP carry is held to what they do; "no maximum" (0) too.
  NetdevGuard huge;
  ASSERT_TRUE(huge.registered(info(kGood, 1500, 0, 0xffffffffu)));
  EXPECT_EQ(huge.min_mtu(), NetdevGuard::kTapMinMtu);
  EXPECT_EQ(huge.max_mtu(), NetdevGuard::kRingMaxMtu);
  NetdevGuard unbounded;
  ASSERT_TRUE(unbounded.registered(info(kGood, 1500, 68, 0)));
  EXPECT_EQ(unbounded.max_mtu(), NetdevGuard::kRingMaxMtu);
  EXPECT_FALSE(unbounded.changed(info(kGood, 65000), kSecond));

  // A range with nothing the host can carry, and a first MTU outside the range, are refused at registration.
  EXPECT_FALSE(NetdevGuard().registered(info(kGood, 1500, 20000, 30000)));
  EXPECT_FALSE(NetdevGuard().registered(info(kGood, 1500, 1000, 500)));
  EXPECT_FALSE(NetdevGuard().registered(info(kGood, 9000, 68, 1500)));
}

TEST(NetdevGuard, FlappingIsRateLimited) {
  NetdevGuard g;
  ASSERT_TRUE(g.registered(info(kGood, 1500)));
  const int burst = static_cast<int>(NetdevGuard::kChangesBurst);
  for (int i = 0; i < burst; ++i) ASSERT_TRUE(g.carrier(i % 2 == 0, kSecond)) << i;  // on, off, on, ...
  const bool now_on = (burst - 1) % 2 == 0;
  auto refused = g.carrier(!now_on, kSecond);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("too often (carrier"), std::string::npos);
  EXPECT_TRUE(g.carrier(now_on, kSecond));  // the state it has: no change
  // MTU and address changes share the budget.
  EXPECT_FALSE(g.changed(info(kGood, 1400), kSecond));
  // A second later the steady rate allows a few again.
  EXPECT_TRUE(g.changed(info(kGood, 1400), 2 * kSecond));
  // The same state again is no change and costs nothing.
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(g.changed(info(kGood, 1400), 2 * kSecond));
}

}  // namespace
}  // namespace side::host
