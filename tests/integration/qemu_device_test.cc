// Debian's unmodified drivers on QEMU's device models, served over vfio-user by a QEMU process side starts
// (side run --device qemu:MODEL): probe, link, ping without loss through the TAP in the peer namespace, and nothing
// left behind (no QEMU process, no socket directory). Skipped, saying why, only when the QEMU with the vfio-user
// server is not built (scripts/build-qemu.sh; scripts/run-tests.sh builds it).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "net/netns.h"
#include "support/qemu.h"
#include "support/shell.h"

namespace {

std::string run(const std::string& command, int* status) {
  return side::test_support::run_shell(command + " 2>&1", status);
}

// QEMU processes and socket directories the side runs of one test made: side keeps its QEMUs' directories in
// $TMPDIR, so a private one tells this test's QEMUs from those of anything else running on the machine.
int qemu_leftovers(const std::string& tmpdir) {
  int n = side::test_support::qemus_serving_under(tmpdir);
  for (const auto& e : std::filesystem::directory_iterator(tmpdir)) {
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
    char tmpl[] = "/tmp/side-qemu-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmpdir_ = tmpl;
    std::filesystem::permissions(tmpdir_, std::filesystem::perms(0755));  // QEMU runs as nobody
  }
  void TearDown() override {
    if (tmpdir_.empty()) return;
    EXPECT_EQ(qemu_leftovers(tmpdir_), 0) << "a QEMU process or socket directory outlived side";
    std::filesystem::remove_all(tmpdir_);
  }

 public:
  std::string side_run(const std::string& module, const std::string& options, int* status) {
    std::string qemu = run(std::string(SIDE_BUILD_QEMU) + " --print-path", status);
    while (!qemu.empty() && qemu.back() == '\n') qemu.pop_back();
    return run("TMPDIR='" + tmpdir_ + "' SIDE_QEMU='" + qemu + "' unshare -n " + std::string(SIDE_BINARY) + " run " +
                   module + " " + options,
               status);
  }

 protected:
  std::string tmpdir_;
};

TEST_F(QemuDevice, E1000OnQemusE1000PingsWithoutLoss) {
  int status = -1;
  // QEMU's e1000 drops what it receives for a second after each RCTL write (hw/net/e1000.c), which the driver makes
  // while it comes up: the pings start after that.
  std::string out =
      side_run("e1000", "--device qemu:e1000 --exec 'sleep 1.5; ping -c 20 -i 0.05 -w 10 -q 10.77.0.2'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("8086:100e"), std::string::npos) << out;
  EXPECT_NE(out.find("Link is Up"), std::string::npos) << out;
}

// The same driver on another of QEMU's e1000s (mac_type e1000_82545: other PHY and EEPROM paths in the driver).
TEST_F(QemuDevice, E1000OnQemus82545emPingsWithoutLoss) {
  int status = -1;
  std::string out = side_run(
      "e1000", "--device qemu:e1000-82545em --exec 'sleep 1.5; ping -c 20 -i 0.05 -w 10 -q 10.77.0.2'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("8086:100f"), std::string::npos) << out;
}

// Debian's 8139cp, unasked, on QEMU's RTL8139C+: side has no model of its own that its PCI id table names.
TEST_F(QemuDevice, ADriverSideHasNoModelForGetsQemusUnasked) {
  int status = -1;
  std::string out = side_run("8139cp", "--exec 'sleep 1; ping -c 20 -i 0.05 -w 10 -q 10.77.0.2'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("it gets qemu:rtl8139"), std::string::npos) << out;
  EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("DMA mappings left after remove 0"), std::string::npos) << out;
}

// Debian's e1000e on QEMU's 82574L in each interrupt mode its IntMode parameter selects (2 MSI-X, the default; 1
// MSI; 0 legacy INTx): the driver's log names the mode it got, and no mode loses a ping.
class QemuE1000e : public QemuDevice {
 protected:
  std::string ping(const std::string& params, int* status) {
    return side_run("e1000e " + params, "--device qemu:e1000e --exec 'sleep 1; ping -c 20 -i 0.05 -w 10 -q 10.77.0.2'",
                    status);
  }
  void expect_clean(const std::string& out) {
    EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
    EXPECT_NE(out.find("8086:10d3"), std::string::npos) << out;
    EXPECT_NE(out.find("Link is Up"), std::string::npos) << out;
    EXPECT_NE(out.find("DMA mappings left after remove 0"), std::string::npos) << out;
    EXPECT_EQ(out.find("Falling back"), std::string::npos) << out;  // MSI-X and MSI were granted when asked
    EXPECT_EQ(out.find("driver fault"), std::string::npos) << out;
  }
};

TEST_F(QemuE1000e, MsixPingsWithoutLoss) {
  int status = -1;
  std::string out = ping("IntMode=2", &status);  // the default, named so that the driver logs it
  EXPECT_EQ(status, 0) << out;
  expect_clean(out);
  EXPECT_NE(out.find("Interrupt Mode set to 2"), std::string::npos) << out;
  EXPECT_EQ(out.find("MSI interrupt test failed"), std::string::npos) << out;
}

// With MSI the driver tests its vector when it opens (e1000_test_msi: ICS.RXSEQ, then 100 ms for the interrupt).
// QEMU's 82574L never raises RXSEQ (its IMS takes no such bit), so the test fails as it would in a QEMU guest and
// the driver goes on with INTx: MSI is enabled, tested, disabled and the legacy line works after it.
TEST_F(QemuE1000e, MsiSelfTestFallsBackToIntxAndPingsWithoutLoss) {
  int status = -1;
  std::string out = ping("IntMode=1", &status);
  EXPECT_EQ(status, 0) << out;
  expect_clean(out);
  EXPECT_NE(out.find("Interrupt Mode set to 1"), std::string::npos) << out;
  EXPECT_NE(out.find("MSI interrupt test failed, using legacy interrupt"), std::string::npos) << out;
  EXPECT_EQ(out.find("Failed to initialize MSI interrupts"), std::string::npos) << out;
}

TEST_F(QemuE1000e, LegacyIntxPingsWithoutLoss) {
  int status = -1;
  std::string out = ping("IntMode=0", &status);
  EXPECT_EQ(status, 0) << out;
  expect_clean(out);
  EXPECT_NE(out.find("Interrupt Mode set to 0"), std::string::npos) << out;
}

// One of the classic NIC drivers, unasked, on the QEMU model it gets: 20 pings without loss, then iperf3 TCP for
// 2 s each way (the peer's server runs until side stops it, and listens again a moment after each test), with no
// driver fault (a recovered one would hide in the totals) and nothing left behind. Each iperf3 has a bound of its
// own: a transfer that stalls fails the test in a minute, not at CTest's timeout.
std::string ping_and_tcp(QemuDevice& t, const std::string& module, int* status) {
  return t.side_run(module,
                    "--peer-exec 'iperf3 -s' --exec 'sleep 1; ping -c 20 -i 0.05 -w 10 -q 10.77.0.2 && "
                    "timeout 60 iperf3 -c 10.77.0.2 -t 2 && sleep 1 && timeout 60 iperf3 -c 10.77.0.2 -t 2 -R'",
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

// pcnet32 on QEMU's PCnet-PCI II: 32-bit DMA (init block, descriptor rings), NAPI. TCP receive under load is what
// found QEMU's model skipping a receive descriptor (scripts/qemu-patches).
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

// Debian's virtio_net with the modules it needs (virtio, virtio_ring, virtio_pci and its modern transport,
// net_failover, failover), unasked, on QEMU's modern virtio-net-pci: virtio_pci binds the PCI function, adds the
// virtio device, and virtio_net binds that. Its rings are mapped through the DMA API (VIRTIO_F_ACCESS_PLATFORM).
TEST_F(QemuDevice, VirtioNetOnQemusVirtioNetPciPingsWithoutLoss) {
  int status = -1;
  std::string out = side_run("virtio_net", "--exec 'ping -c 20 -i 0.05 -w 10 -q 10.77.0.2'", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("it gets qemu:virtio-net-pci"), std::string::npos) << out;
  EXPECT_NE(out.find("1af4:1041"), std::string::npos) << out;
  EXPECT_NE(out.find("20 packets transmitted, 20 received, 0% packet loss"), std::string::npos) << out;
  EXPECT_NE(out.find("IOMMU faults 0; DMA mappings left after remove 0"), std::string::npos) << out;
}

}  // namespace
