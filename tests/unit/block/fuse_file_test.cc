// The disk as a FUSE file used by ordinary programs: dd patterns in and out (aligned and not), the size fixed as a
// block device's, mkfs.ext4 and a clean fsck, and as root a loop mount that keeps a file across a remount. A mount
// whose server was killed is cleaned up by the next start. Skipped, with the reason, without /dev/fuse or root.
#include "block/fuse_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

#include "block/image_file_disk.h"
#include "block/nbd_server.h"
#include "block_test_util.h"

namespace side::block {
namespace {

using namespace std::chrono_literals;
using test::run;

// Why FUSE cannot be used here, or empty.
std::string fuse_unavailable() {
  struct stat st {};
  if (::stat("/dev/fuse", &st) != 0) return "no /dev/fuse";
  if (::geteuid() != 0 && !test::have_tool("fusermount3")) return "not root and no fusermount3 (package fuse3)";
  return {};
}

class FuseFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = fuse_unavailable(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    ASSERT_TRUE(ImageFileDisk::create_image(image_, kSize).ok());
    auto d = ImageFileDisk::open(image_, {});
    ASSERT_TRUE(d.ok());
    disk_ = std::move(*d);
    auto f = FuseFile::start(*disk_, {.path = file_});
    if (!f.ok()) {
      GTEST_SKIP() << "cannot mount FUSE here: " << f.error().message;
    }
    fuse_ = std::move(*f);
  }
  void TearDown() override {
    if (!fuse_) return;
    fuse_->stop();
    EXPECT_FALSE(std::filesystem::exists(file_)) << "the mount point the export created is removed";
  }

  static constexpr uint64_t kSize = 64 << 20;
  test::ScratchDir dir_;
  std::string image_ = dir_ / "disk.img", file_ = dir_ / "disk";
  std::unique_ptr<ImageFileDisk> disk_;
  std::unique_ptr<FuseFile> fuse_;
};

TEST_F(FuseFileTest, IsARegularFileTheSizeOfTheDisk) {
  struct stat st {};
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(uint64_t(st.st_size), kSize);
  int status;
  run("truncate -s 1M " + file_, &status);
  EXPECT_NE(status, 0) << "the size of a disk cannot change";
  ASSERT_EQ(::stat(file_.c_str(), &st), 0);
  EXPECT_EQ(uint64_t(st.st_size), kSize);
}

TEST_F(FuseFileTest, DdPatternsInAndOut) {
  const auto data = test::pattern(21, 0, 4 << 20);
  ASSERT_TRUE(test::write_file(dir_ / "pat", data));
  int status;
  std::string out = run("dd if=" + dir_ / "pat" + " of=" + file_ + " bs=64k seek=16 conv=notrunc,fsync", &status);
  ASSERT_EQ(status, 0) << out;
  const auto img = test::read_file(image_);
  ASSERT_EQ(img.size(), kSize);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), img.begin() + (1 << 20))) << "landed at 1 MiB in the image";
  out = run("dd if=" + file_ + " of=" + dir_ / "back" + " bs=64k skip=16 count=64", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(test::read_file(dir_ / "back"), data);
  // Unaligned: 1000-byte blocks at byte 7, without conv=notrunc (O_TRUNC is ignored, as for a block device).
  out = run("dd if=" + dir_ / "pat" + " of=" + file_ + " bs=1000 count=5 seek=7 oflag=seek_bytes", &status);
  ASSERT_EQ(status, 0) << out;
  const auto img2 = test::read_file(image_);
  EXPECT_TRUE(std::equal(data.begin(), data.begin() + 5000, img2.begin() + 7));
  EXPECT_EQ(img2[6], 0);
  EXPECT_EQ(img2[5007], 0);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), img2.begin() + (1 << 20))) << "the rest untouched";
}

TEST_F(FuseFileTest, Mkfs_Ext4_ThenFsckIsClean) {
  if (!test::have_tool("mkfs.ext4")) {
    GTEST_SKIP() << "mkfs.ext4 is not installed (package e2fsprogs)";
  }
  int status;
  std::string out = run("mkfs.ext4 -F -q " + file_, &status);
  ASSERT_EQ(status, 0) << out;
  out = run("fsck.ext4 -n -f " + file_, &status);
  EXPECT_EQ(status, 0) << out;
  out = run("fsck.ext4 -n -f " + image_, &status);
  EXPECT_EQ(status, 0) << "the image itself holds the file system: " << out;
}

TEST_F(FuseFileTest, LoopMountKeepsAFileAcrossRemount) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "mount -o loop needs root";
  }
  if (!test::have_tool("mkfs.ext4")) {
    GTEST_SKIP() << "mkfs.ext4 is not installed (package e2fsprogs)";
  }
  int status;
  ASSERT_EQ((run("mkfs.ext4 -F -q " + file_, &status), status), 0);
  const std::string mnt = dir_ / "mnt";
  std::filesystem::create_directory(mnt);
  std::string out = run("mount -o loop " + file_ + " " + mnt, &status);
  if (status != 0) {
    GTEST_SKIP() << "no loop device here: " << out;
  }
  const auto data = test::pattern(22, 0, 3 << 20);
  EXPECT_TRUE(test::write_file(mnt + "/hello.bin", data));
  out = run("umount " + mnt, &status);
  ASSERT_EQ(status, 0) << out;
  out = run("mount -o loop,ro " + file_ + " " + mnt, &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(test::read_file(mnt + "/hello.bin"), data);
  run("umount " + mnt, &status);
  EXPECT_EQ(status, 0);
  out = run("fsck.ext4 -n -f " + file_, &status);
  EXPECT_EQ(status, 0) << out;
}

TEST_F(FuseFileTest, FioRandomWritesVerify) {
  if (!test::have_tool("fio")) {
    GTEST_SKIP() << "fio is not installed (package fio)";
  }
  int status;
  const std::string out = run("fio --name=verify --filename=" + file_ +
                                  " --rw=randwrite --bs=4k --size=16M --direct=1 --ioengine=psync --iodepth=1"
                                  " --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 --numjobs=1",
                              &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("err= 0"), std::string::npos) << out;
}

TEST_F(FuseFileTest, WritesThroughNbdAreSeenThroughTheFile) {
  if (!test::have_tool("nbdcopy")) {
    GTEST_SKIP() << "nbdcopy is not installed (package libnbd-bin)";
  }
  NbdServerOptions o;
  o.unix_path = dir_ / "nbd.sock";
  auto nbd = NbdServer::start(*disk_, o);
  ASSERT_TRUE(nbd.ok());
  const auto data = test::pattern(23, 0, kSize);
  ASSERT_TRUE(test::write_file(dir_ / "src", data));
  int status;
  std::string out = run("nbdcopy " + dir_ / "src" + " 'nbd+unix:///side?socket=" + o.unix_path + "'", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(test::read_file(file_), data) << "no stale page cache on the FUSE file (direct_io)";
  const auto before = test::pattern(24, 4096, 4096);
  ASSERT_TRUE(test::write_file(dir_ / "blk", before));
  run("dd if=" + dir_ / "blk" + " of=" + file_ + " bs=4096 seek=1 conv=notrunc", &status);
  ASSERT_EQ(status, 0);
  out = run("nbdcopy 'nbd+unix:///side?socket=" + o.unix_path + "' " + dir_ / "back", &status);
  ASSERT_EQ(status, 0) << out;
  const auto back = test::read_file(dir_ / "back");
  ASSERT_EQ(back.size(), kSize);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), back.begin() + 4096));
  (*nbd)->stop();
}

// Run only as the child of KilledServerLeavesAMountTheNextStartCleans: mounts, says so, and waits to be killed.
TEST(FuseFileHelper, MountAndWaitToBeKilled) {
  const char* path = std::getenv("SIDE_FUSE_HELPER_PATH");
  if (!path) {
    GTEST_SKIP() << "a helper process of another test";
  }
  auto d = ImageFileDisk::open(std::string(path) + ".img", {});
  ASSERT_TRUE(d.ok());
  auto f = FuseFile::start(**d, {.path = path});
  ASSERT_TRUE(f.ok()) << f.error().message;
  for (int i = 0; i < 600; ++i) std::this_thread::sleep_for(100ms);  // killed long before
}

TEST(FuseFileKilled, KilledServerLeavesAMountTheNextStartCleans) {
  if (auto why = fuse_unavailable(); !why.empty()) {
    GTEST_SKIP() << why;
  }
  test::ScratchDir dir;
  const std::string path = dir / "disk";
  ASSERT_TRUE(ImageFileDisk::create_image(path + ".img", 8 << 20).ok());
  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  const std::string cmd = "SIDE_FUSE_HELPER_PATH=" + path + " " + self +
                          " --gtest_filter=FuseFileHelper.MountAndWaitToBeKilled >/dev/null 2>&1 & echo $!";
  int status;
  const int pid = std::atoi(run(cmd, &status).c_str());
  ASSERT_GT(pid, 0);
  struct stat st {};
  for (int i = 0; i < 100 && !(::stat(path.c_str(), &st) == 0 && st.st_size == 8 << 20); ++i)
    std::this_thread::sleep_for(50ms);
  if (st.st_size != 8 << 20) {
    ::kill(pid, SIGKILL);
    GTEST_SKIP() << "the helper could not mount";
  }
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  struct statfs fs {};
  for (int i = 0; i < 100 && ::statfs(path.c_str(), &fs) == 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(::statfs(path.c_str(), &fs), -1);
  EXPECT_EQ(errno, ENOTCONN) << "a dead mount stays until someone unmounts it";
  auto d = ImageFileDisk::open(path + ".img", {});
  ASSERT_TRUE(d.ok());
  auto f = FuseFile::start(**d, {.path = path});
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8 << 20) << "mounted afresh on the same path";
  (*f)->stop();
}

}  // namespace
}  // namespace side::block
