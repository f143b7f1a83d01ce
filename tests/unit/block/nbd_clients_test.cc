// The NBD export used by real clients (Debian's libnbd-bin, qemu-utils, nbd-client): byte-for-byte round trips of
// patterned images, over the Unix socket and over TCP on the loopback address. Skipped, saying which package is
// missing, where a client is not installed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "block/image_file_disk.h"
#include "block/nbd_server.h"
#include "block_test_util.h"

namespace side::block {
namespace {

using test::run;

class NbdClients : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ImageFileDisk::create_image(image_, kSize).ok());
    auto d = ImageFileDisk::open(image_, {});
    ASSERT_TRUE(d.ok());
    disk_ = std::move(*d);
    NbdServerOptions o;
    o.unix_path = socket_;
    o.tcp_port = 0;
    auto s = NbdServer::start(*disk_, o);
    ASSERT_TRUE(s.ok()) << s.error().message;
    server_ = std::move(*s);
    uri_ = "'nbd+unix:///side?socket=" + socket_ + "'";
  }
  void require(const std::string& tool, const std::string& package) {
    if (!test::have_tool(tool)) {
      GTEST_SKIP() << tool << " is not installed (Debian package " << package << ")";
    }
  }

  static constexpr uint64_t kSize = 32 << 20;
  test::ScratchDir dir_;
  std::string image_ = dir_ / "disk.img", socket_ = dir_ / "nbd.sock", uri_;
  std::unique_ptr<ImageFileDisk> disk_;
  std::unique_ptr<NbdServer> server_;
};

TEST_F(NbdClients, NbdinfoSeesTheExport) {
  require("nbdinfo", "libnbd-bin");
  int status;
  EXPECT_EQ(run("nbdinfo --size " + uri_, &status), std::to_string(kSize) + "\n");
  EXPECT_EQ(status, 0);
  const std::string info = run("nbdinfo " + uri_, &status);
  ASSERT_EQ(status, 0) << info;
  EXPECT_NE(info.find("export-size: " + std::to_string(kSize)), std::string::npos) << info;
  EXPECT_NE(info.find("block_size_minimum: 512"), std::string::npos) << info;
  EXPECT_NE(info.find("can_flush: true"), std::string::npos) << info;
  EXPECT_NE(info.find("can_trim: true"), std::string::npos) << info;
  EXPECT_NE(info.find("can_zero: true"), std::string::npos) << info;
  EXPECT_NE(info.find("can_fua: true"), std::string::npos) << info;
  EXPECT_NE(info.find("can_multi_conn: true"), std::string::npos) << info;
  const std::string list = run("nbdinfo --list 'nbd+unix://?socket=" + socket_ + "'", &status);
  EXPECT_EQ(status, 0) << list;
  EXPECT_NE(list.find("export=\"side\""), std::string::npos) << list;
  EXPECT_NE(list.find("disk exported by side"), std::string::npos) << list;
}

TEST_F(NbdClients, NbdcopyRoundTripsAPatternedImage) {
  require("nbdcopy", "libnbd-bin");
  const auto data = test::pattern(11, 0, kSize);
  ASSERT_TRUE(test::write_file(dir_ / "src.raw", data));
  int status;
  const std::string in = run("nbdcopy " + dir_ / "src.raw" + " " + uri_, &status);
  ASSERT_EQ(status, 0) << in;
  EXPECT_EQ(test::read_file(image_), data) << "the image file holds what was copied in";
  const std::string out = run("nbdcopy " + uri_ + " " + dir_ / "back.raw", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(test::read_file(dir_ / "back.raw"), data);
  EXPECT_GT(server_->counters().bytes_read.load(), 0u);
}

TEST_F(NbdClients, QemuImgAndQemuIoReadAndWrite) {
  require("qemu-img", "qemu-utils");
  require("qemu-io", "qemu-utils");
  int status;
  const std::string io =
      run("qemu-io -f raw -c 'write -P 0xa5 1M 256k' -c 'write -z 4M 64k' -c 'flush' " + uri_, &status);
  ASSERT_EQ(status, 0) << io;
  const std::string check = run("qemu-io -f raw -c 'read -P 0xa5 1M 256k' " + uri_, &status);
  ASSERT_EQ(status, 0) << check;
  EXPECT_EQ(check.find("Pattern verification failed"), std::string::npos) << check;
  const std::string conv = run("qemu-img convert -f raw -O raw " + uri_ + " " + dir_ / "copy.raw", &status);
  ASSERT_EQ(status, 0) << conv;
  EXPECT_EQ(test::read_file(dir_ / "copy.raw"), test::read_file(image_));
  const auto copy = test::read_file(dir_ / "copy.raw");
  ASSERT_EQ(copy.size(), kSize);
  EXPECT_EQ(copy[(1 << 20) + 1000], 0xa5);
  const std::string info = run("qemu-img info -f raw " + uri_, &status);
  EXPECT_NE(info.find("virtual size: 32 MiB"), std::string::npos) << info;
}

TEST_F(NbdClients, TcpOnTheLoopbackAddress) {
  require("nbdcopy", "libnbd-bin");
  ASSERT_NE(server_->tcp_port(), 0);
  const auto data = test::pattern(12, 0, 1 << 20);
  ASSERT_TRUE(test::write_file(dir_ / "src.raw", data));
  const std::string uri = "nbd://127.0.0.1:" + std::to_string(server_->tcp_port()) + "/side";
  int status;
  const std::string out = run("nbdcopy " + dir_ / "src.raw" + " " + uri, &status);
  ASSERT_EQ(status, 0) << out;
  run("nbdcopy " + uri + " " + dir_ / "back.raw", &status);
  ASSERT_EQ(status, 0);
  const auto back = test::read_file(dir_ / "back.raw");
  ASSERT_EQ(back.size(), kSize);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), back.begin()));
}

TEST_F(NbdClients, KernelNbdClient) {
  require("nbd-client", "nbd-client");
  struct stat st {};
  if (::stat("/dev/nbd0", &st) != 0) {
    GTEST_SKIP() << "no /dev/nbd0 (the nbd kernel module is not loaded)";
  }
  if (::geteuid() != 0) {
    GTEST_SKIP() << "nbd-client needs root";
  }
  int status;
  const std::string up = run("nbd-client -unix " + socket_ + " /dev/nbd0 -N side", &status);
  ASSERT_EQ(status, 0) << up;
  const auto data = test::pattern(13, 0, 1 << 20);
  ASSERT_TRUE(test::write_file(dir_ / "src.raw", data));
  run("dd if=" + dir_ / "src.raw" + " of=/dev/nbd0 bs=64k oflag=direct conv=fsync", &status);
  EXPECT_EQ(status, 0);
  run("nbd-client -d /dev/nbd0", &status);
  const auto img = test::read_file(image_);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), img.begin()));
}

}  // namespace
}  // namespace side::block
