// The image-file disk: what is written is what is read back (and what the file holds), flush and FUA succeed,
// discard and write-zeroes leave zeroes, requests complete from the workers, a read-only image refuses changes.
#include "block/image_file_disk.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "block_test_util.h"

namespace side::block {
namespace {

using namespace std::chrono_literals;

// Submits and waits for the completion; returns the status (or the refusal).
int run_sync(BlockDevice& d, const Request& r) {
  std::mutex mu;
  std::condition_variable cv;
  int status = -1;
  const int err = d.submit(
      r,
      [&](int s) {
        std::lock_guard lock(mu);
        status = s;
        cv.notify_all();
      },
      5s);
  if (err) return err;
  std::unique_lock lock(mu);
  cv.wait_for(lock, 10s, [&] { return status != -1; });
  return status;
}

class ImageFile : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ImageFileDisk::create_image(path_, kSize).ok());
    auto d = ImageFileDisk::open(path_, {});
    ASSERT_TRUE(d.ok()) << d.error().message;
    disk_ = std::move(*d);
  }
  static constexpr uint64_t kSize = 8 << 20;
  test::ScratchDir dir_;
  std::string path_ = dir_ / "disk.img";
  std::unique_ptr<ImageFileDisk> disk_;
};

TEST_F(ImageFile, GeometryComesFromTheFile) {
  const Geometry& g = disk_->geometry();
  EXPECT_EQ(g.capacity, kSize);
  EXPECT_EQ(g.logical_block_size, 512u);
  EXPECT_TRUE(g.flush && g.fua && g.discard && g.write_zeroes);
  EXPECT_FALSE(g.read_only);
}

TEST_F(ImageFile, WritesReadBackAndReachTheFile) {
  auto data = test::pattern(1, 65536, 1 << 20);
  ASSERT_EQ(run_sync(*disk_, {Op::kWrite, kFua, 65536, 1 << 20, data.data()}), 0);
  ASSERT_EQ(run_sync(*disk_, {Op::kFlush, 0, 0, 0, nullptr}), 0);
  std::vector<uint8_t> back(1 << 20);
  ASSERT_EQ(run_sync(*disk_, {Op::kRead, 0, 65536, 1 << 20, back.data()}), 0);
  EXPECT_EQ(back, data);
  const auto file = test::read_file(path_);
  ASSERT_EQ(file.size(), kSize);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), file.begin() + 65536));
}

TEST_F(ImageFile, DiscardAndWriteZeroesReadAsZeroes) {
  auto data = test::pattern(2, 0, 1 << 20);
  ASSERT_EQ(run_sync(*disk_, {Op::kWrite, 0, 0, 1 << 20, data.data()}), 0);
  ASSERT_EQ(run_sync(*disk_, {Op::kWriteZeroes, 0, 4096, 8192, nullptr}), 0);
  ASSERT_EQ(run_sync(*disk_, {Op::kWriteZeroes, kNoUnmap, 65536, 512, nullptr}), 0);
  ASSERT_EQ(run_sync(*disk_, {Op::kDiscard, 0, 131072, 65536, nullptr}), 0);
  std::vector<uint8_t> back(1 << 20);
  ASSERT_EQ(run_sync(*disk_, {Op::kRead, 0, 0, 1 << 20, back.data()}), 0);
  auto expect = data;
  std::fill(expect.begin() + 4096, expect.begin() + 12288, 0);
  std::fill(expect.begin() + 65536, expect.begin() + 66048, 0);
  // A discarded range may read as anything; on a file system that punches holes (tmpfs, ext4) it is zeroes.
  std::copy(back.begin() + 131072, back.begin() + 196608, expect.begin() + 131072);
  EXPECT_EQ(back, expect);
}

TEST_F(ImageFile, ManyRequestsInFlightAllComplete) {
  constexpr int kRequests = 200;
  std::vector<std::vector<uint8_t>> bufs;
  for (int i = 0; i < kRequests; ++i) bufs.push_back(test::pattern(3, uint64_t(i) * 4096, 4096));
  std::mutex mu;
  std::condition_variable cv;
  int done = 0, failed = 0;
  for (int i = 0; i < kRequests; ++i) {
    auto cb = [&](int s) {
      std::lock_guard lock(mu);
      ++done, failed += s != 0;
      cv.notify_all();
    };
    ASSERT_EQ(disk_->submit({Op::kWrite, 0, uint64_t(i) * 4096, 4096, bufs[i].data()}, cb, 5s), 0);
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return done == kRequests; }));
  EXPECT_EQ(failed, 0);
  const auto file = test::read_file(path_);
  for (int i = 0; i < kRequests; ++i) EXPECT_TRUE(std::equal(bufs[i].begin(), bufs[i].end(), file.begin() + i * 4096));
}

TEST_F(ImageFile, ReadOnlyImageRefusesChanges) {
  ImageFileOptions o;
  o.read_only = true;
  auto ro = ImageFileDisk::open(path_, o);
  ASSERT_TRUE(ro.ok());
  std::vector<uint8_t> buf(512);
  EXPECT_EQ(run_sync(**ro, {Op::kWrite, 0, 0, 512, buf.data()}), EROFS);
  EXPECT_EQ(run_sync(**ro, {Op::kRead, 0, 0, 512, buf.data()}), 0);
}

TEST(ImageFileOpen, RefusesWhatIsNoDisk) {
  test::ScratchDir dir;
  EXPECT_FALSE(ImageFileDisk::open(dir / "missing", {}).ok());
  EXPECT_FALSE(ImageFileDisk::open(dir.path(), {}).ok()) << "a directory";
  ASSERT_TRUE(ImageFileDisk::create_image(dir / "tiny", 100).ok());
  EXPECT_FALSE(ImageFileDisk::open(dir / "tiny", {}).ok()) << "smaller than one block";
  ImageFileOptions o;
  o.logical_block_size = 3000;
  ASSERT_TRUE(ImageFileDisk::create_image(dir / "odd", 1 << 20).ok());
  EXPECT_FALSE(ImageFileDisk::open(dir / "odd", o).ok()) << "block size not a power of two";
}

}  // namespace
}  // namespace side::block
