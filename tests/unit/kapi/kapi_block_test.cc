// The block layer of the kernel-API layer with Debian's unmodified virtio_blk on QEMU's virtio-blk-pci (over
// vfio-user, backed by a disk image in a private directory): the driver probes and adds its disk, side's requests
// (side_kapi_block_*) are cut into the driver's requests within the queue's limits, written data reads back byte
// for byte, lands in the image after a flush, and unloading leaves no DMA mapping and no QEMU. In-process domain:
// the test reaches the arena (the request buffers) directly. Skipped, saying why, when the QEMU with the
// vfio-user server is not built.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "domain/domain.h"
#include "kapi/side_host.h"
#include "supervisor/driver_domain.h"
#include "supervisor/machine.h"
#include "test_supervised_domain.h"

namespace {

std::string qemu_path() {
  FILE* p = popen((std::string(SIDE_BUILD_QEMU) + " --print-path 2>/dev/null").c_str(), "r");
  std::array<char, 512> buf{};
  std::string out;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  if (pclose(p) != 0) return "";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return access(out.c_str(), X_OK) == 0 ? out : "";
}

// QEMU processes serving a socket under `dir`.
int qemus_under(const std::string& dir) {
  int n = 0;
  for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmdline(proc.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (args.find("x-vfio-user-server") != std::string::npos && args.find("path=" + dir + "/") != std::string::npos)
      ++n;
  }
  return n;
}

// One byte of the pattern at byte `at` of the disk, for a write tagged `tag`: every sector's bytes differ.
uint8_t pattern(uint64_t at, uint8_t tag) {
  return static_cast<uint8_t>((at * 2654435761u >> 13) ^ (at >> 9) ^ tag);
}

constexpr uint64_t kDiskBytes = 64ull << 20;
constexpr uint32_t kBufferOrder = 10;  // 4 MiB, physically contiguous

class KapiBlock : public ::testing::Test {
 protected:
  void SetUp() override {
    qemu_ = qemu_path();
    if (qemu_.empty()) GTEST_SKIP() << "QEMU with the vfio-user server is not built: run scripts/build-qemu.sh";
    char tmpl[] = "/tmp/side-block-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmpdir_ = tmpl;
    std::filesystem::permissions(tmpdir_, std::filesystem::perms(0755));  // QEMU runs as nobody
    setenv("TMPDIR", tmpdir_.c_str(), 1);
    image_ = tmpdir_ + "/disk.img";
    d_ = std::make_unique<side::testing::SupervisedDomain>(SIDE_TEST_MODULE_CACHE, /*virtual_time=*/false);
    machine_ = std::make_unique<side::supervisor::Machine>(**d_);
    (*d_)->connect(machine_.get());
  }
  void TearDown() override {
    machine_.reset();
    d_.reset();
    if (tmpdir_.empty()) return;
    EXPECT_EQ(qemus_under(tmpdir_), 0) << "a QEMU outlived its device";
    std::filesystem::remove_all(tmpdir_);
    unsetenv("TMPDIR");
  }

  // Loads virtio_blk, plugs QEMU's virtio-blk-pci on the image and probes it; returns the pci_dev token.
  uint64_t probe() {
    auto m = (*d_)->load({"virtio_blk"});
    EXPECT_TRUE(m) << (m ? "" : m.error().message) << d_->log();
    side::devices::DeviceOptions options;
    options.qemu_binary = qemu_;
    options.disk_image = image_;
    options.disk_size = kDiskBytes;
    auto dev = machine_->add_device(*side::devices::find_device_model("qemu:virtio-blk-pci"), options);
    EXPECT_TRUE(dev) << (dev ? "" : dev.error().message);
    dev_ = dev ? *dev : 0;
    const auto start = std::chrono::steady_clock::now();
    auto pdev = (*d_)->probe(dev_);
    probe_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    EXPECT_TRUE(pdev) << (pdev ? "" : pdev.error().message) << d_->log();
    return pdev ? *pdev : 0;
  }

  side::domain::Domain& domain() { return (*d_)->domain(); }
  uint8_t* arena() { return (*d_)->arena_base(); }

  int info(side_block_info* out) {
    int ret = -1;
    auto s = domain().run_entry("block info", "side_kapi_block_info", [&](uint64_t f) {
      return ret = reinterpret_cast<decltype(&side_kapi_block_info)>(f)(0, out);
    });
    return s ? 0 : ret;
  }
  int rw(uint32_t op, uint64_t sector, uint32_t nr_sectors, const std::vector<side_block_seg>& segs) {
    int ret = -1;
    auto s = domain().run_entry("block request", "side_kapi_block_rw", [&](uint64_t f) {
      ret = reinterpret_cast<decltype(&side_kapi_block_rw)>(f)(0, op, sector, nr_sectors, segs.data(),
                                                               static_cast<uint32_t>(segs.size()));
      return 0;
    });
    return s ? ret : -9999;
  }
  uint64_t buffer() {
    uint64_t offset = 0;
    auto s = domain().run_entry("block buffer", "side_kapi_block_buffer_alloc", [&](uint64_t f) {
      return reinterpret_cast<decltype(&side_kapi_block_buffer_alloc)>(f)(kBufferOrder, &offset);
    });
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return offset;
  }
  void free_buffer(uint64_t offset) {
    auto s = domain().run_entry("block buffer", "side_kapi_block_buffer_free", [&](uint64_t f) {
      reinterpret_cast<decltype(&side_kapi_block_buffer_free)>(f)(offset, kBufferOrder);
      return 0;
    });
    EXPECT_TRUE(s);
  }

  std::string qemu_, tmpdir_, image_;
  std::unique_ptr<side::testing::SupervisedDomain> d_;
  std::unique_ptr<side::supervisor::Machine> machine_;
  uint32_t dev_ = 0;
  double probe_ms_ = 0;
};

// Pieces of the buffer: `count` of `len` bytes each, `stride` bytes apart, from the buffer's start.
std::vector<side_block_seg> pieces(uint64_t buffer, uint32_t count, uint32_t len, uint32_t stride) {
  std::vector<side_block_seg> out;
  for (uint32_t i = 0; i < count; ++i) out.push_back({buffer + uint64_t{i} * stride, len, 0});
  return out;
}

uint32_t sectors_of(const std::vector<side_block_seg>& segs) {
  uint64_t bytes = 0;
  for (const auto& s : segs) bytes += s.len;
  return static_cast<uint32_t>(bytes / 512);
}

class KapiBlockIo : public KapiBlock {
 protected:
  // Writes the pattern for `tag` at `sector` through `segs`, clears the pieces, reads them back and compares
  // every byte. Returns how many driver requests the write became.
  uint64_t write_and_verify(uint64_t sector, const std::vector<side_block_seg>& segs, uint8_t tag) {
    side_block_info before{}, after{};
    info(&before);
    fill(sector, segs, tag);
    EXPECT_EQ(rw(SIDE_BLOCK_WRITE, sector, sectors_of(segs), segs), 0) << d_->log();
    info(&after);
    for (const auto& s : segs) std::memset(arena() + s.offset, 0, s.len);
    EXPECT_EQ(rw(SIDE_BLOCK_READ, sector, sectors_of(segs), segs), 0) << d_->log();
    EXPECT_EQ(mismatches(sector, segs, tag), 0u) << "at sector " << sector;
    expected_.push_back({sector, segs, tag});
    return after.requests - before.requests;
  }
  void fill(uint64_t sector, const std::vector<side_block_seg>& segs, uint8_t tag) {
    uint64_t at = sector * 512;
    for (const auto& s : segs)
      for (uint32_t i = 0; i < s.len; ++i) arena()[s.offset + i] = pattern(at++, tag);
  }
  size_t mismatches(uint64_t sector, const std::vector<side_block_seg>& segs, uint8_t tag) {
    uint64_t at = sector * 512;
    size_t bad = 0;
    for (const auto& s : segs)
      for (uint32_t i = 0; i < s.len; ++i) bad += arena()[s.offset + i] != pattern(at++, tag);
    return bad;
  }
  // The image file itself (what QEMU wrote to it), against every write made.
  size_t image_mismatches() {
    int fd = ::open(image_.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    size_t bad = 0;
    for (const auto& w : expected_) {
      const uint32_t bytes = sectors_of(w.segs) * 512;
      std::vector<uint8_t> data(bytes);
      EXPECT_EQ(pread(fd, data.data(), bytes, static_cast<off_t>(w.sector * 512)), static_cast<ssize_t>(bytes));
      for (uint32_t i = 0; i < bytes; ++i) bad += data[i] != pattern(w.sector * 512 + i, w.tag);
    }
    close(fd);
    return bad;
  }
  struct Written {
    uint64_t sector;
    std::vector<side_block_seg> segs;
    uint8_t tag;
  };
  std::vector<Written> expected_;
};

TEST_F(KapiBlockIo, VirtioBlkServesVerifiedRequestsWithinItsLimits) {
  const uint64_t pdev = probe();
  ASSERT_NE(pdev, 0u);
  side_block_info disk{};
  ASSERT_EQ(info(&disk), 0);
  EXPECT_STREQ(disk.name, "vda");
  EXPECT_EQ(disk.capacity, kDiskBytes / 512);
  EXPECT_EQ(disk.logical_block_size, 512u);
  EXPECT_TRUE(d_->logged("[vda] 131072 512-byte logical blocks (67.1 MB/64.0 MiB)")) << d_->log();
  std::printf(
      "virtio_blk: probe %.1f ms; %s: max_sectors %u, max_segments %u, max_segment_size %u, queue depth %u, "
      "write cache %s\n",
      probe_ms_, disk.name, disk.max_sectors, disk.max_segments, disk.max_segment_size, disk.queue_depth,
      disk.flags & SIDE_BLOCK_INFO_WRITE_CACHE ? "on" : "off");
  const uint64_t buf = buffer();

  EXPECT_EQ(write_and_verify(0, pieces(buf, 1, 4096, 4096), 1), 1u);       // one page at the start
  EXPECT_EQ(write_and_verify(9, pieces(buf, 1, 512, 512), 2), 1u);         // one sector, odd place
  EXPECT_EQ(write_and_verify(1000, pieces(buf, 1, 65536, 65536), 3), 1u);  // 64 KiB
  EXPECT_EQ(write_and_verify(4096, pieces(buf, 16, 4096, 8192), 4), 1u);   // 16 segments, every other page
  EXPECT_EQ(write_and_verify(20000, pieces(buf, 5, 1024, 4096), 5), 1u);   // sub-page pieces
  // Larger than max_sectors: cut at max_sectors (physical blocks are sectors here), three requests.
  const uint32_t big = (2 * disk.max_sectors + 8) * 512;
  ASSERT_LE(big, 4u << 20);
  EXPECT_EQ(write_and_verify(30000, pieces(buf, 1, big, big), 6), 3u);
  // More pieces than max_segments: the first request takes max_segments of them, the second the rest.
  const uint32_t many = disk.max_segments + 10;
  ASSERT_LE(uint64_t{many} * 8192, 4u << 20);
  EXPECT_EQ(write_and_verify(50000, pieces(buf, many, 4096, 8192), 7), 2u);
  // The last sectors of the disk.
  EXPECT_EQ(write_and_verify(disk.capacity - 8, pieces(buf, 1, 4096, 4096), 8), 1u);

  // With a volatile write cache and no FUA (virtio_blk: blk_queue_write_cache(q, true, false)), a FUA write with
  // a preflush is three requests: flush, write, flush (blk-flush.c's sequence); an empty flush is one.
  ASSERT_TRUE(disk.flags & SIDE_BLOCK_INFO_WRITE_CACHE);
  ASSERT_FALSE(disk.flags & SIDE_BLOCK_INFO_FUA);
  side_block_info before{}, after{};
  info(&before);
  fill(60000, pieces(buf, 1, 8192, 8192), 9);
  EXPECT_EQ(rw(SIDE_BLOCK_WRITE | SIDE_BLOCK_FUA | SIDE_BLOCK_PREFLUSH, 60000, 16, pieces(buf, 1, 8192, 8192)), 0);
  expected_.push_back({60000, pieces(buf, 1, 8192, 8192), 9});
  info(&after);
  EXPECT_EQ(after.requests - before.requests, 3u);
  EXPECT_EQ(rw(SIDE_BLOCK_FLUSH, 0, 0, {}), 0);
  info(&before);
  EXPECT_EQ(before.requests - after.requests, 1u);
  EXPECT_EQ(image_mismatches(), 0u);
  // QEMU's virtio-blk offers discard: a discard request completes (QEMU's file driver ignores it by default).
  if (disk.flags & SIDE_BLOCK_INFO_DISCARD) {
    EXPECT_EQ(rw(SIDE_BLOCK_DISCARD, 80000, 2048, {}), 0);
  }
  free_buffer(buf);

  ASSERT_TRUE((*d_)->remove(pdev)) << d_->log();
  EXPECT_EQ(machine_->dma(dev_).live_mappings(), 0u);
  EXPECT_TRUE((*d_)->unload("virtio_blk")) << d_->log();
  EXPECT_TRUE((*d_)->faults().empty()) << d_->log();
}

TEST_F(KapiBlockIo, RequestsOutsideTheRulesAreRefused) {
  ASSERT_NE(probe(), 0u);
  const uint64_t buf = buffer();
  side_block_info disk{};
  ASSERT_EQ(info(&disk), 0);
  EXPECT_EQ(rw(SIDE_BLOCK_READ, disk.capacity - 4, 8, pieces(buf, 1, 4096, 4096)), -EINVAL);  // past the end
  EXPECT_EQ(rw(SIDE_BLOCK_READ, 0, 8, pieces(buf + 100, 1, 4096, 4096)), -EINVAL);            // misaligned buffer
  EXPECT_EQ(rw(SIDE_BLOCK_READ, 0, 8, pieces(buf, 1, 2048, 4096)), -EINVAL);                  // sizes disagree
  EXPECT_EQ(rw(SIDE_BLOCK_READ, 0, 8, pieces(uint64_t{1} << 40, 1, 4096, 4096)), -EINVAL);    // outside the arena
  EXPECT_EQ(rw(SIDE_BLOCK_READ, 0, 0, {}), -EINVAL);
  int ret = 0;
  auto s = domain().run_entry("block info", "side_kapi_block_info", [&](uint64_t f) {
    side_block_info other{};
    ret = reinterpret_cast<decltype(&side_kapi_block_info)>(f)(1, &other);
    return 0;
  });
  EXPECT_TRUE(s);
  EXPECT_EQ(ret, -ENODEV);
  free_buffer(buf);
  EXPECT_TRUE((*d_)->faults().empty()) << d_->log();
}

// Sequential 64 KiB requests, one at a time, through the in-process domain (the figure the report quotes).
TEST_F(KapiBlockIo, Sequential64KiBThroughput) {
  ASSERT_NE(probe(), 0u);
  const uint64_t buf = buffer();
  constexpr uint32_t kChunk = 64 << 10, kTotal = 32 << 20;
  auto run = [&](uint32_t op) {
    const auto start = std::chrono::steady_clock::now();
    for (uint32_t at = 0; at < kTotal; at += kChunk) {
      if (rw(op, at / 512, kChunk / 512, pieces(buf + at % (4u << 20), 1, kChunk, kChunk)) != 0) return 0.0;
    }
    return kTotal / 1e6 / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const double write_mbs = run(SIDE_BLOCK_WRITE), read_mbs = run(SIDE_BLOCK_READ);
  std::printf("virtio_blk on qemu:virtio-blk-pci, in-process, sequential 64 KiB: write %.1f MB/s, read %.1f MB/s\n",
              write_mbs, read_mbs);
  RecordProperty("write_mb_per_s", std::to_string(write_mbs));
  RecordProperty("read_mb_per_s", std::to_string(read_mbs));
  EXPECT_GT(write_mbs, 0.0);
  EXPECT_GT(read_mbs, 0.0);
  free_buffer(buf);
}

}  // namespace
