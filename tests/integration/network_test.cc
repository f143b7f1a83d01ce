// The isolated driver's NIC as a real host interface, used by real programs: ping, iperf3, tcpdump/tshark. Each
// test runs side in a network namespace of its own (unshare -n), and side puts the peer in another one, which it
// removes again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>

#include "common/sanitizer.h"
#include "net/netns.h"
#include "support/shell.h"

namespace {

std::string run(const std::string& command, int* status) {
  return side::test_support::run_shell(command + " 2>&1", status);
}

// side run e1000 in a fresh network namespace, with the given options.
std::string side_run(const std::string& options, int* status) {
  return run("unshare -n " + std::string(SIDE_BINARY) + " run e1000 --quiet " + options, status);
}

class Network : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!side::net::have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN (root) for TAP devices and namespaces";
  }
  void TearDown() override {
    // Nothing is left behind: every peer namespace of side's belongs to a side still running (tests run in
    // parallel), none to one that ended.
    int status = 0;
    std::string ns = run("ip netns list", &status);
    std::smatch m;
    static const std::regex peer(R"(side-peer-([0-9]+))");
    for (auto it = std::sregex_iterator(ns.begin(), ns.end(), peer); it != std::sregex_iterator(); ++it) {
      pid_t pid = std::stoi((*it)[1].str());
      EXPECT_EQ(::kill(pid, 0), 0) << "namespace " << (*it)[0].str() << " outlived its side";
    }
  }
};

TEST_F(Network, PingLosesNothing) {
  int status = -1;
  std::string out = side_run("--exec 'ping -c 100 -i 0.01 -w 10 -q 10.77.0.2'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("100 packets transmitted, 100 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("isolation process"), std::string::npos) << out;
  EXPECT_NE(out.find("command exit status 0"), std::string::npos) << out;
}

TEST_F(Network, InterfaceMirrorsTheDriver) {
  int status = -1;
  std::string out = side_run("--exec 'ip link show side0'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("link/ether 52:54:00:12:34:56"), std::string::npos) << out;
  EXPECT_NE(out.find("mtu 1500"), std::string::npos) << out;
  EXPECT_NE(out.find("state UP"), std::string::npos) << out;  // the driver has carrier
  EXPECT_EQ(out.find("NO-CARRIER"), std::string::npos) << out;
}

std::string throughput(const std::string& out) {
  std::smatch m;
  static const std::regex receiver(R"(([0-9.]+ [KMG]?bits/sec).*receiver)");
  return std::regex_search(out, m, receiver) ? m[1].str() : "";
}

// side's own lines and iperf3's totals, without its once-a-second lines: what a failure message needs.
std::string without_interval_lines(const std::string& out) {
  static const std::regex interval(R"(^\[ *[0-9]+\] +[0-9.]+-[0-9.]+ +sec.*$)");
  std::string kept;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    const bool total = line.find("sender") != std::string::npos || line.find("receiver") != std::string::npos;
    if (total || !std::regex_match(line, interval)) kept += line + "\n";
  }
  return kept;
}

TEST_F(Network, Iperf3Tcp) {
  int status = -1;
  std::string out = side_run("--peer-exec 'iperf3 -s -1' --exec 'iperf3 -c 10.77.0.2 -t 3'", &status);
  EXPECT_EQ(status, 0) << out;
  std::string rate = throughput(out);
  ASSERT_FALSE(rate.empty()) << out;
  std::printf("iperf3 TCP through the isolated e1000: %s\n", rate.c_str());
  RecordProperty("tcp_throughput", rate);
}

TEST_F(Network, Iperf3Udp) {
  int status = -1;
  std::string out = side_run("--peer-exec 'iperf3 -s -1' --exec 'iperf3 -c 10.77.0.2 -u -b 100M -t 3'", &status);
  EXPECT_EQ(status, 0) << out;
  std::string rate = throughput(out);
  ASSERT_FALSE(rate.empty()) << out;
  std::printf("iperf3 UDP (100 Mbit/s offered) through the isolated e1000: %s\n", rate.c_str());
  RecordProperty("udp_throughput", rate);
}

TEST_F(Network, Iperf3TcpSurvivesTenDriverCrashes) {
  int status = -1;
  // Ten crashes a second apart take about 11 s; the 20 s transfer leaves room for slow restarts on a loaded machine
  // (a sanitizer build's restarts take about a second each: it gets twice as long).
  const std::string seconds = std::to_string(20 * (side::kSanitizerBuild ? 2 : 1));
  std::string out = side_run(
      "--peer-exec 'iperf3 -s -1' --exec 'iperf3 -c 10.77.0.2 -t " + seconds + "' --crash-every 1 --crashes 10",
      &status);
  const std::string summary = without_interval_lines(out);
  EXPECT_EQ(status, 0) << summary;
  EXPECT_NE(out.find("command exit status 0"), std::string::npos) << summary;
  size_t restarts = 0;
  for (size_t p = 0; (p = out.find("restart after domain died", p)) != std::string::npos; ++p) ++restarts;
  EXPECT_EQ(restarts, 10u) << summary;
  std::string rate = throughput(out);
  ASSERT_FALSE(rate.empty()) << out;
  std::printf("iperf3 TCP across 10 driver crashes: %s\n", rate.c_str());
}

TEST_F(Network, PcapOfTheWireReadsBackInTshark) {
  std::string pcap = ::testing::TempDir() + "side-wire.pcap";
  int status = -1;
  std::string out = side_run("--wire pcap:" + pcap + " --exec 'ping -c 5 -i 0.1 -w 10 10.77.0.2'", &status);
  ASSERT_EQ(status, 0) << out;
  std::string requests =
      run("tshark -r " + pcap + " -Y 'icmp.type == 8 && ip.dst == 10.77.0.2' 2>/dev/null | cat", &status);
  EXPECT_EQ(status, 0) << requests;
  std::string replies =
      run("tshark -r " + pcap + " -Y 'icmp.type == 0 && ip.src == 10.77.0.2' 2>/dev/null | cat", &status);
  auto lines = [](const std::string& s) { return std::count(s.begin(), s.end(), '\n'); };
  // ping -w sends until 5 replies are in: when the host's first ARP request goes unanswered (its retry comes a second
  // later), the requests queued meanwhile all leave then. Each request on the wire has its reply on the wire.
  EXPECT_GE(lines(requests), 5) << requests;
  EXPECT_EQ(lines(replies), lines(requests)) << replies;
  // ARP resolved the peer over the same wire.
  std::string arp = run("tcpdump -nr " + pcap + " arp", &status);
  EXPECT_NE(arp.find("Request who-has 10.77.0.2"), std::string::npos) << arp;
}

TEST_F(Network, BuiltinTrafficCanBeCapturedToo) {
  std::string pcap = ::testing::TempDir() + "side-builtin.pcap";
  int status = -1;
  std::string out = side_run("--wire builtin --packets 200 --wire pcap:" + pcap, &status);
  ASSERT_EQ(status, 0) << out;
  std::string count =
      run("tshark -r " + pcap + " -Y 'eth.type == 0x88b5' -T fields -e frame.number 2>/dev/null | wc -l", &status);
  EXPECT_EQ(std::stoi(count), 400) << count;  // 200 each way
}

TEST_F(Network, AnInterfaceInUseIsRefusedClearly) {
  // A second side in the same namespace cannot take side0 from the first.
  const std::string side = SIDE_BINARY;
  int status = -1;
  std::string out =
      run("unshare -n sh -c '" + side + " run e1000 --quiet --exec \"sleep 3\" >/dev/null 2>&1 & sleep 1.5; " + side +
              " run e1000 --quiet --exec true; rc=$?; wait; exit $rc'",
          &status);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("host interface: TUNSETIFF side0"), std::string::npos) << out;
  EXPECT_NE(out.find("is another side using side0?"), std::string::npos) << out;
}

}  // namespace

// Jumbo frames: with MTU 9000 on side0 (mirrored to the driver, which turns on long-packet receive) and on the
// peer, unfragmentable 8000-byte pings cross the rings and the emulated NIC both ways without loss. Frames that
// no ring can carry would stall the host interface for ever if they were retried; they are dropped and counted,
// and the traffic after them flows.
TEST_F(Network, JumboFramesCrossBothWaysAndImpossibleOnesAreDropped) {
  int status = -1;
  std::string out = side_run(
      "--json --peer-exec 'ip link set peer0 mtu 9000; sleep 4; ping -s 8000 -M do -c 20 -i 0.05 -w 10 -q "
      "10.77.0.1 | sed s/^/peer:/' --exec 'ip link set side0 mtu 9000 && sleep 3 && ping -s 8000 -M do -c 20 -i "
      "0.05 -w 10 -q 10.77.0.2 && sleep 3 && ip link set side0 mtu 30000 && sleep 1 && (ping -s 20000 -c 3 -i 0.2 "
      "-W 1 -q 10.77.0.2; true) && ip link set side0 mtu 9000 && sleep 3 && ping -s 8000 -M do -c 10 -i 0.05 -w 10 "
      "-q 10.77.0.2'",
      &status);
  EXPECT_EQ(status, 0) << out;
  // Host to peer, twice (before and after the impossible frames), and peer to host.
  EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("10 packets transmitted, 10 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("peer:20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  // The 20028-byte frames (three pings, no ARP needed by then) were dropped and counted, not retried.
  std::smatch m;
  static const std::regex oversize(R"re("dropped_oversize":([0-9]+))re");
  ASSERT_TRUE(std::regex_search(out, m, oversize)) << out;
  EXPECT_GE(std::stoi(m[1].str()), 3) << out;
}
