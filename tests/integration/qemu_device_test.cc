// Debian's unmodified drivers on QEMU's device models, served over vfio-user by a QEMU process side starts
// (side run --device qemu:MODEL): probe, link, ping without loss through the TAP in the peer namespace, and nothing
// left behind (no QEMU process, no socket directory). Skipped, saying why, only when the QEMU with the vfio-user
// server is not built (scripts/build-qemu.sh; scripts/run-tests.sh builds it).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "net/netns.h"

namespace {

std::string run(const std::string& command, int* status) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int rc = pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

// QEMU processes and socket directories side made, whoever's they are.
int qemu_leftovers() {
  int status = 0;
  std::string ps = run("pgrep -c -f 'x-vfio-user-server' || true", &status);
  int n = std::atoi(ps.c_str());
  for (const auto& e : std::filesystem::directory_iterator("/tmp")) {
    if (e.path().filename().string().starts_with("side-qemu-")) ++n;
  }
  return n;
}

class QemuDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!side::net::have_net_admin()) GTEST_SKIP() << "needs CAP_NET_ADMIN (root) for TAP devices and namespaces";
    int status = -1;
    run(std::string(SIDE_BUILD_QEMU) + " --check", &status);
    if (status != 0) {
      GTEST_SKIP() << "QEMU with the vfio-user server is not built: run scripts/build-qemu.sh (scripts/run-tests.sh "
                      "does)";
    }
    before_ = qemu_leftovers();
  }
  void TearDown() override {
    if (!IsSkipped()) {
      EXPECT_EQ(qemu_leftovers(), before_) << "a QEMU process or socket directory outlived side";
    }
  }

 public:
  std::string side_run(const std::string& module, const std::string& options, int* status) {
    std::string qemu = run(std::string(SIDE_BUILD_QEMU) + " --print-path", status);
    while (!qemu.empty() && qemu.back() == '\n') qemu.pop_back();
    return run("SIDE_QEMU='" + qemu + "' unshare -n " + std::string(SIDE_BINARY) + " run " + module + " " + options,
               status);
  }

 protected:
  int before_ = 0;
};

TEST_F(QemuDevice, E1000OnQemusE1000PingsWithoutLoss) {
  int status = -1;
  // QEMU's e1000 drops what it receives for a second after each RCTL write (hw/net/e1000.c), which the driver makes
  // while it comes up: the pings start after that.
  std::string out =
      side_run("e1000", "--device qemu:e1000 --exec 'sleep 1.5; ping -c 20 -i 0.05 -q 10.77.0.2'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("8086:100e"), std::string::npos) << out;
  EXPECT_NE(out.find("Link is Up"), std::string::npos) << out;
}

// The same driver on another of QEMU's e1000s (mac_type e1000_82545: other PHY and EEPROM paths in the driver).
TEST_F(QemuDevice, E1000OnQemus82545emPingsWithoutLoss) {
  int status = -1;
  std::string out =
      side_run("e1000", "--device qemu:e1000-82545em --exec 'sleep 1.5; ping -c 20 -i 0.05 -q 10.77.0.2'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("8086:100f"), std::string::npos) << out;
}

// Debian's 8139cp, unasked, on QEMU's RTL8139C+: side has no model of its own that its PCI id table names.
TEST_F(QemuDevice, ADriverSideHasNoModelForGetsQemusUnasked) {
  int status = -1;
  std::string out = side_run("8139cp", "--exec 'sleep 1; ping -c 20 -i 0.05 -q 10.77.0.2'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("it gets qemu:rtl8139"), std::string::npos) << out;
  EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("DMA mappings left after remove 0"), std::string::npos) << out;
}

// One of the classic NIC drivers, unasked, on the QEMU model it gets: 20 pings without loss, then iperf3 TCP for
// 2 s each way (the peer's server runs until side stops it, and listens again a moment after each test), with no
// driver fault (a recovered one would hide in the totals) and nothing left behind.
std::string ping_and_tcp(QemuDevice& t, const std::string& module, int* status) {
  return t.side_run(module,
                    "--peer-exec 'iperf3 -s' --exec 'sleep 1; ping -c 20 -i 0.05 -q 10.77.0.2 && "
                    "iperf3 -c 10.77.0.2 -t 2 && sleep 1 && iperf3 -c 10.77.0.2 -t 2 -R'",
                    status);
}

void expect_traffic(const std::string& out, int status, const std::string& model) {
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("it gets " + model + ","), std::string::npos) << out;
  EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  size_t receivers = 0;
  for (size_t at = out.find("receiver"); at != std::string::npos; at = out.find("receiver", at + 1)) ++receivers;
  EXPECT_GE(receivers, 2u) << "an iperf3 total each way\n" << out;
  EXPECT_EQ(out.find("fault:"), std::string::npos) << out;
  EXPECT_NE(out.find("DMA mappings left after remove 0"), std::string::npos) << out;
}

// ne2k-pci with 8390 on QEMU's RTL8029: port I/O only, frames through the data port with rep insl/outsl (short
// frames from a buffer on the stack), and no carrier handling in the driver.
TEST_F(QemuDevice, Ne2kPciOnQemusNe2kPciPingsAndCarriesTcpBothWays) {
  int status = -1;
  std::string out = ping_and_tcp(*this, "ne2k-pci", &status);
  expect_traffic(out, status, "qemu:ne2k_pci");
  EXPECT_NE(out.find("10ec:8029"), std::string::npos) << out;
}

// pcnet32 on QEMU's PCnet-PCI II: 32-bit DMA (init block, descriptor rings), NAPI.
TEST_F(QemuDevice, Pcnet32OnQemusPcnetPingsAndCarriesTcpBothWays) {
  int status = -1;
  std::string out = ping_and_tcp(*this, "pcnet32", &status);
  expect_traffic(out, status, "qemu:pcnet");
  EXPECT_NE(out.find("1022:2000"), std::string::npos) << out;
}

// 8139too gets QEMU's RTL8139 shown as revision 0x10 (it refuses a C+) and drives its classic mode.
TEST_F(QemuDevice, EightOneThreeNineTooOnQemusRtl8139AsAnRtl8139cPingsAndCarriesTcpBothWays) {
  int status = -1;
  std::string out = ping_and_tcp(*this, "8139too", &status);
  expect_traffic(out, status, "qemu:rtl8139-8139c");
  EXPECT_EQ(out.find("use 8139cp"), std::string::npos) << out;
}

TEST_F(QemuDevice, ADriverWhoseIdTableDoesNotNameTheModelIsRefused) {
  int status = -1;
  std::string out = side_run("e1000", "--device qemu:rtl8139 --duration 1", &status);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(out.find("does not name qemu:rtl8139"), std::string::npos) << out;
}

}  // namespace
