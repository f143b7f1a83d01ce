// The request generator of `side bench --class block`, against an image-file disk (the same BlockDevice contract
// the driver's disk has): it keeps `depth` requests in flight, counts only the window's, writes the pattern and
// checks every read against it, and reports data that is not what was written instead of a figure.
#include "bench/block_load.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "block/image_file_disk.h"

namespace side::bench {
namespace {

class BlockLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/side-block-load-XXXXXX";
    const int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
    ASSERT_TRUE(block::ImageFileDisk::create_image(path_, kBytes));
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::unique_ptr<block::ImageFileDisk> open() {
    auto d = block::ImageFileDisk::open(path_, {});
    EXPECT_TRUE(d) << d.error().message;
    return d ? std::move(*d) : nullptr;
  }

  static constexpr uint64_t kBytes = 4ull << 20;
  std::string path_;
};

BlockLoadConfig config(block::Op op, uint32_t bytes, uint32_t depth) {
  BlockLoadConfig c;
  c.op = op;
  c.request_bytes = bytes;
  c.depth = depth;
  c.warmup_s = 0.02;
  c.window_s = 0.1;
  return c;
}

TEST_F(BlockLoad, WritesThePatternAndReadsItBackVerified) {
  auto disk = open();
  ASSERT_TRUE(disk);
  ASSERT_EQ(fill_region(*disk, kBytes, 1), "");
  int starts = 0, ends = 0;
  auto w = config(block::Op::kWrite, 4096, 8);
  w.on_window_start = [&] { ++starts; };
  w.on_window_end = [&] { ++ends; };
  const auto written = run_block_load(*disk, w);
  EXPECT_EQ(written.error, "");
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(ends, 1);
  EXPECT_GT(written.requests, 0u);
  EXPECT_EQ(written.bytes, written.requests * 4096);
  EXPECT_NEAR(written.seconds, 0.1, 0.09);
  const auto read = run_block_load(*disk, config(block::Op::kRead, 65536, 4));
  EXPECT_EQ(read.error, "");
  EXPECT_GT(read.requests, 0u);
  EXPECT_EQ(read.blocks_verified, read.bytes / 512);
  EXPECT_EQ(read.blocks_mismatched, 0u);
  // The image holds the pattern where the generator says it does.
  std::ifstream in(path_, std::ios::binary);
  in.seekg(1 << 20);
  uint64_t word = 0;
  in.read(reinterpret_cast<char*>(&word), 8);
  EXPECT_EQ(word, block_pattern_word(1 << 20, 1));
}

TEST_F(BlockLoad, DataThatIsNotThePatternFailsThePoint) {
  auto disk = open();
  ASSERT_TRUE(disk);
  ASSERT_EQ(fill_region(*disk, kBytes, 1), "");
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    const std::string junk(kBytes, 'x');  // every block
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const auto read = run_block_load(*disk, config(block::Op::kRead, 4096, 2));
  EXPECT_EQ(read.error, "read data does not match what was written");
  EXPECT_GT(read.blocks_mismatched, 0u);
}

TEST_F(BlockLoad, ARequestSizeTheDiskCannotTakeIsAnError) {
  auto disk = open();
  ASSERT_TRUE(disk);
  EXPECT_NE(run_block_load(*disk, config(block::Op::kRead, 1000, 1)).error, "");
  auto c = config(block::Op::kRead, 4096, 1);
  c.region_bytes = 2048;
  EXPECT_NE(run_block_load(*disk, c).error, "");
}

}  // namespace
}  // namespace side::bench
