// A disk as bytes (the FUSE file's view) and split requests: random unaligned reads, writes and zero ranges
// against a reference copy, on a 4096-byte-block disk that takes at most 16 KiB per request.
#include "block/byte_io.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <random>

#include "block/image_file_disk.h"
#include "block/split_io.h"
#include "block_test_util.h"
#include "manual_disk.h"

namespace side::block {
namespace {

using namespace std::chrono_literals;

class Bytes : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ImageFileDisk::create_image(dir_ / "disk.img", kSize).ok());
    ImageFileOptions o;
    o.logical_block_size = 4096;
    o.max_transfer = 16384;
    auto d = ImageFileDisk::open(dir_ / "disk.img", o);
    ASSERT_TRUE(d.ok()) << d.error().message;
    disk_ = std::move(*d);
    io_ = std::make_unique<ByteIo>(*disk_, 5s);
  }
  static constexpr uint64_t kSize = 1 << 20;
  test::ScratchDir dir_;
  std::unique_ptr<ImageFileDisk> disk_;
  std::unique_ptr<ByteIo> io_;
  std::vector<uint8_t> ref_ = std::vector<uint8_t>(kSize, 0);
};

TEST_F(Bytes, RandomUnalignedAccessesMatchAReferenceCopy) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 300; ++i) {
    const uint64_t off = rng() % kSize;
    const size_t len = 1 + rng() % std::min<uint64_t>(70000, kSize - off);
    const int kind = static_cast<int>(rng() % 4);
    if (kind == 0) {
      auto data = test::pattern(uint32_t(i), off, len);
      ASSERT_EQ(io_->write(off, len, data.data()), ssize_t(len));
      std::copy(data.begin(), data.end(), ref_.begin() + off);
    } else if (kind == 1) {
      ASSERT_EQ(io_->zero(off, len, rng() & 1), 0);
      std::fill(ref_.begin() + off, ref_.begin() + off + len, 0);
    } else {
      std::vector<uint8_t> back(len);
      ASSERT_EQ(io_->read(off, len, back.data()), ssize_t(len));
      ASSERT_TRUE(std::equal(back.begin(), back.end(), ref_.begin() + off)) << "read " << len << " at " << off;
    }
  }
  EXPECT_EQ(test::read_file(dir_ / "disk.img"), ref_);
}

TEST_F(Bytes, StopsAtTheEndAsABlockDeviceDoes) {
  std::vector<uint8_t> buf(8192, 0x5a);
  EXPECT_EQ(io_->write(kSize - 100, 8192, buf.data()), 100) << "a write across the end is short";
  EXPECT_EQ(io_->write(kSize, 1, buf.data()), -ENOSPC);
  EXPECT_EQ(io_->read(kSize - 10, 8192, buf.data()), 10);
  EXPECT_EQ(io_->read(kSize, 1, buf.data()), 0);
  EXPECT_EQ(io_->zero(kSize - 5, 100, true), 0);
  EXPECT_EQ(io_->flush(), 0);
}

TEST(SplitIo, SplitsLongRequestsAndReportsTheFirstError) {
  Geometry g;
  g.logical_block_size = 512;
  g.capacity = 1 << 20;
  g.max_transfer = 4096;
  g.max_discard = 8192;
  g.queue_depth = 64;
  g.discard = true;
  test::ManualDisk disk(g);
  std::vector<uint8_t> buf(16384);
  int status = -1;
  ASSERT_EQ(submit_split(
                disk, {Op::kRead, 0, 512, 10240, buf.data()}, [&](int s) { status = s; }, 1s),
            0);
  auto reqs = disk.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].offset, 512u);
  EXPECT_EQ(reqs[1].offset, 512u + 4096);
  EXPECT_EQ(reqs[2].length, 10240u - 8192);
  EXPECT_EQ(reqs[2].data, buf.data() + 8192);
  disk.complete(2);
  disk.complete(0, EIO);
  EXPECT_EQ(status, -1) << "one piece still in flight";
  disk.complete(0);
  EXPECT_EQ(status, EIO);
  ASSERT_EQ(submit_split(
                disk, {Op::kDiscard, 0, 0, 20480, nullptr}, [&](int s) { status = s; }, 1s),
            0);
  EXPECT_EQ(disk.pending(), 3u);
  disk.complete_all();
  EXPECT_EQ(status, 0);
  EXPECT_EQ(submit_split(
                disk, {Op::kRead, 0, 100, 4096, buf.data()}, [](int) {}, 1s),
            EINVAL);
}

TEST(ByteIoTimeout, AHungDeviceIsAnErrorNotAHang) {
  Geometry g;
  g.capacity = 1 << 20;
  test::ManualDisk disk(g);
  ByteIo io(disk, 100ms);
  uint8_t buf[10];
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(io.read(3, sizeof buf, buf), -EIO);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  disk.complete_all();  // the late completion writes into a buffer the reader no longer owns, but that still exists
}

}  // namespace
}  // namespace side::block
