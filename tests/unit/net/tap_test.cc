// TAP interfaces and network namespaces (root only): a namespace comes and goes with its object; a TAP in it takes
// the settings side gives it, hands out the frames the kernel sends through it, and takes frames the kernel then
// counts as received.
#include "net/tap.h"

#include <gtest/gtest.h>
#include <net/if.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "net/netns.h"

namespace side::net {
namespace {

bool namespace_exists(const std::string& name) {
  std::string out;
  run_program({"ip", "netns", "list"}, &out);
  return std::regex_search(out, std::regex("(^|\\n)" + name + "( |\\n|$)"));
}

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN (root) for TAP devices and namespaces";
    auto ns = NetNamespace::create(ns_name_);
    ASSERT_TRUE(ns) << ns.error().message;
    ns_.emplace(std::move(*ns));
    auto tap = Tap::create("sidetap0", ns_name_);
    ASSERT_TRUE(tap) << tap.error().message;
    tap_.emplace(std::move(*tap));
  }
  // The interface's counter, as the kernel keeps it ("rx_packets", ...).
  uint64_t counter(const std::string& which) {
    std::string out;
    run_program({"ip", "netns", "exec", ns_name_, "cat", "/sys/class/net/sidetap0/statistics/" + which}, &out);
    return std::stoull(out.empty() ? "0" : out);
  }
  const std::string ns_name_ = "side-net-unit-" + std::to_string(::getpid());
  std::optional<NetNamespace> ns_;
  std::optional<Tap> tap_;
};

TEST_F(TapTest, TakesTheSettingsItIsGiven) {
  const std::array<uint8_t, 6> mac{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
  ASSERT_TRUE(tap_->set_mac(mac));
  ASSERT_TRUE(tap_->set_mtu(1400));
  ASSERT_TRUE(tap_->set_up(true));
  auto got_mac = tap_->mac();
  ASSERT_TRUE(got_mac) << got_mac.error().message;
  EXPECT_EQ(*got_mac, mac);
  auto mtu = tap_->mtu();
  ASSERT_TRUE(mtu) << mtu.error().message;
  EXPECT_EQ(*mtu, 1400u);
  auto flags = tap_->flags();
  ASSERT_TRUE(flags) << flags.error().message;
  EXPECT_TRUE(*flags & IFF_UP);
  ASSERT_TRUE(tap_->set_up(false));
  EXPECT_FALSE(*tap_->flags() & IFF_UP);
}

TEST_F(TapTest, ReadsWhatTheKernelSendsThroughIt) {
  ASSERT_TRUE(tap_->set_up(true));
  ASSERT_TRUE(tap_->set_carrier(true));
  ASSERT_TRUE(ns_->ip({"addr", "add", "10.213.0.1/24", "dev", "sidetap0"}));
  // A ping to a neighbour in the namespace's own subnet makes the kernel ask for its address: an ARP request
  // through the TAP (nothing answers; ping gives up after a second).
  run_program({"ip", "netns", "exec", ns_name_, "ping", "-c", "1", "-W", "1", "10.213.0.2"});
  std::vector<uint8_t> buf(2048);
  bool saw_arp = false;
  for (int i = 0; i < 100 && !saw_arp; ++i) {
    auto n = tap_->read(buf);
    ASSERT_TRUE(n) << n.error().message;
    if (*n == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    // Ethernet type 0x0806, ARP opcode 1 (request), target protocol address 10.213.0.2.
    saw_arp = *n >= 42 && buf[12] == 0x08 && buf[13] == 0x06 && buf[21] == 1 && buf[38] == 10 && buf[39] == 213 &&
              buf[40] == 0 && buf[41] == 2;
  }
  EXPECT_TRUE(saw_arp);
}

TEST_F(TapTest, FramesWrittenAreReceivedByTheKernel) {
  ASSERT_TRUE(tap_->set_up(true));
  ASSERT_TRUE(tap_->set_carrier(true));
  const uint64_t before = counter("rx_packets");
  std::vector<uint8_t> frame(60, 0);
  for (int i = 0; i < 6; ++i) frame[i] = 0xff;  // broadcast
  frame[6] = 0x52;
  frame[12] = 0x88;  // a local experimental ethertype (0x88b5): nothing handles it, the interface still counts it
  frame[13] = 0xb5;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tap_->write(frame));
  EXPECT_EQ(counter("rx_packets"), before + 3);
}

TEST(NetNamespace, ExistsExactlyAsLongAsItsObject) {
  if (!have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN (root) for network namespaces";
  const std::string name = "side-netns-unit-" + std::to_string(::getpid());
  {
    auto ns = NetNamespace::create(name);
    ASSERT_TRUE(ns) << ns.error().message;
    EXPECT_TRUE(namespace_exists(name));
    NetNamespace moved(std::move(*ns));  // the moved-from object no longer owns it
    EXPECT_TRUE(namespace_exists(name));
  }
  EXPECT_FALSE(namespace_exists(name));
}

// A pid no process has: one of a child that has ended and been reaped (not reused this soon on a 4M pid space).
pid_t pid_of_an_ended_process() {
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

TEST(NetNamespace, AnOwnedOneClearsWhatEndedProcessesLeftBehind) {
  if (!have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN (root) for network namespaces";
  const std::string prefix = "side-owned-unit";
  const std::string abandoned = prefix + "-" + std::to_string(pid_of_an_ended_process());
  const std::string of_a_live_process = prefix + "-" + std::to_string(getppid());
  const std::string not_ours = prefix + "-x1";
  for (const auto& name : {abandoned, of_a_live_process, not_ours}) ASSERT_TRUE(net::ip({"netns", "add", name}));
  {
    auto ns = NetNamespace::create_owned(prefix);
    ASSERT_TRUE(ns) << ns.error().message;
    EXPECT_EQ(ns->name(), prefix + "-" + std::to_string(getpid()));
    EXPECT_TRUE(namespace_exists(ns->name()));
    EXPECT_FALSE(namespace_exists(abandoned));
    EXPECT_TRUE(namespace_exists(of_a_live_process));
    EXPECT_TRUE(namespace_exists(not_ours));
  }
  EXPECT_FALSE(namespace_exists(prefix + "-" + std::to_string(getpid())));
  for (const auto& name : {of_a_live_process, not_ours}) (void)net::ip({"netns", "delete", name});
}

TEST(NetNamespace, AnOwnedOneReplacesALeftoverOfAnEarlierProcessWithTheSamePid) {
  if (!have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN (root) for network namespaces";
  const std::string prefix = "side-reused-unit";
  const std::string name = prefix + "-" + std::to_string(getpid());
  ASSERT_TRUE(net::ip({"netns", "add", name}));
  auto ns = NetNamespace::create_owned(prefix);
  ASSERT_TRUE(ns) << ns.error().message;
  EXPECT_EQ(ns->name(), name);
}

}  // namespace
}  // namespace side::net
