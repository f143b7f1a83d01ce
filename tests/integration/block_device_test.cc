// Debian's unmodified virtio_blk in a sandboxed domain process on QEMU's virtio-blk-pci (over vfio-user, backed by
// a disk image in this test's private $TMPDIR), driven as the supervisor will drive it: block requests through the
// channel (ipc::BlockRequest), the data in the domain's arena, which the supervisor maps too. Patterned writes at
// several places and sizes (one sector, sixteen discontiguous pages, larger than max_sectors) read back byte for
// byte; after a flush the image file itself holds them; removing the device leaves no DMA mapping, and no QEMU
// outlives the machine. Skipped, saying why, when the QEMU with the vfio-user server is not built.
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

#include "supervisor/domain_process.h"
#include "supervisor/machine.h"

namespace {

using side::supervisor::DomainProcess;
using side::supervisor::Machine;

std::string qemu_path() {
  FILE* p = popen((std::string(SIDE_BUILD_QEMU) + " --print-path 2>/dev/null").c_str(), "r");
  std::array<char, 512> buf{};
  std::string out;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  if (pclose(p) != 0) return "";
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return access(out.c_str(), X_OK) == 0 ? out : "";
}

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

uint8_t pattern(uint64_t at, uint8_t tag) {
  return static_cast<uint8_t>((at * 2654435761u >> 13) ^ (at >> 9) ^ tag);
}

struct Write {
  uint64_t sector;
  std::vector<side_block_seg> segs;
  uint8_t tag;
  uint32_t sectors() const {
    uint64_t b = 0;
    for (const auto& s : segs) b += s.len;
    return static_cast<uint32_t>(b / 512);
  }
};

class BlockDevice : public ::testing::Test {
 protected:
  void SetUp() override {
    qemu_ = qemu_path();
    if (qemu_.empty()) GTEST_SKIP() << "QEMU with the vfio-user server is not built: run scripts/build-qemu.sh";
    char tmpl[] = "/tmp/side-block-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmpdir_ = tmpl;
    std::filesystem::permissions(tmpdir_, std::filesystem::perms(0755));  // QEMU runs as nobody
    setenv("TMPDIR", tmpdir_.c_str(), 1);
  }
  void TearDown() override {
    machine_.reset();
    domain_.reset();
    if (tmpdir_.empty()) return;
    EXPECT_EQ(qemus_under(tmpdir_), 0) << "a QEMU outlived its device";
    std::filesystem::remove_all(tmpdir_);
    unsetenv("TMPDIR");
  }
  void fill(const Write& w) {
    uint64_t at = w.sector * 512;
    for (const auto& s : w.segs)
      for (uint32_t i = 0; i < s.len; ++i) domain_->arena_base()[s.offset + i] = pattern(at++, w.tag);
  }
  size_t mismatches(const Write& w) {
    uint64_t at = w.sector * 512;
    size_t bad = 0;
    for (const auto& s : w.segs)
      for (uint32_t i = 0; i < s.len; ++i) bad += domain_->arena_base()[s.offset + i] != pattern(at++, w.tag);
    return bad;
  }

  std::string qemu_, tmpdir_;
  std::unique_ptr<DomainProcess> domain_;
  std::unique_ptr<Machine> machine_;
};

TEST_F(BlockDevice, IsolatedVirtioBlkServesVerifiedRequestsAndLeavesNothingBehind) {
  side::supervisor::DomainProcessConfig pc;
  pc.kapi_path = SIDE_TEST_KAPI;
  pc.symvers_path = SIDE_TEST_SYMVERS;
  pc.modules_dir = SIDE_TEST_MODULE_CACHE;
  pc.executable = SIDE_BINARY;
  pc.virtual_time = false;
  auto d = DomainProcess::start(pc, {"virtio_blk"});
  ASSERT_TRUE(d) << d.error().message;
  domain_ = std::move(*d);
  machine_ = std::make_unique<Machine>(*domain_);
  domain_->connect(machine_.get());
  side::devices::DeviceOptions options;
  options.qemu_binary = qemu_;
  options.disk_image = tmpdir_ + "/disk.img";
  auto dev = machine_->add_device(*side::devices::find_device_model("qemu:virtio-blk-pci"), options);
  ASSERT_TRUE(dev) << dev.error().message;
  const auto start = std::chrono::steady_clock::now();
  auto pdev = domain_->probe(*dev);
  ASSERT_TRUE(pdev) << pdev.error().message;
  const double probe_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  auto disk = domain_->block_info(0);
  ASSERT_TRUE(disk) << disk.error().message;
  EXPECT_STREQ(disk->name, "vda");
  EXPECT_EQ(disk->capacity, options.disk_size / 512);
  auto buf = domain_->block_buffer(10);
  ASSERT_TRUE(buf) << buf.error().message;

  std::vector<Write> writes;
  writes.push_back({0, {{*buf, 4096, 0}}, 1});
  writes.push_back({9, {{*buf, 512, 0}}, 2});
  std::vector<side_block_seg> sparse;
  for (uint32_t i = 0; i < 16; ++i) sparse.push_back({*buf + i * 8192ull, 4096, 0});
  writes.push_back({4096, sparse, 3});
  const uint32_t big = (2 * disk->max_sectors + 8) * 512;  // three driver requests
  writes.push_back({30000, {{*buf, big, 0}}, 4});
  writes.push_back({disk->capacity - 8, {{*buf, 4096, 0}}, 5});
  for (const Write& w : writes) {
    fill(w);
    ASSERT_TRUE(domain_->block_request(0, SIDE_BLOCK_WRITE, w.sector, w.sectors(), w.segs)) << w.sector;
    for (const auto& s : w.segs) std::memset(domain_->arena_base() + s.offset, 0, s.len);
    ASSERT_TRUE(domain_->block_request(0, SIDE_BLOCK_READ, w.sector, w.sectors(), w.segs)) << w.sector;
    EXPECT_EQ(mismatches(w), 0u) << "at sector " << w.sector;
  }
  auto after = domain_->block_info(0);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->requests, 2u * (writes.size() + 2));  // the large one is three requests each way
  ASSERT_TRUE(domain_->block_request(0, SIDE_BLOCK_FLUSH, 0, 0, {}));

  // The image file holds every write.
  int fd = ::open(options.disk_image.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  for (const Write& w : writes) {
    std::vector<uint8_t> data(w.sectors() * 512);
    ASSERT_EQ(pread(fd, data.data(), data.size(), static_cast<off_t>(w.sector * 512)),
              static_cast<ssize_t>(data.size()));
    size_t bad = 0;
    for (size_t i = 0; i < data.size(); ++i) bad += data[i] != pattern(w.sector * 512 + i, w.tag);
    EXPECT_EQ(bad, 0u) << "image at sector " << w.sector;
  }
  close(fd);
  // A refused request is an error, not a fault.
  EXPECT_FALSE(domain_->block_request(0, SIDE_BLOCK_READ, disk->capacity, 8, {{*buf, 4096, 0}}));
  EXPECT_FALSE(domain_->block_request(3, SIDE_BLOCK_READ, 0, 8, {{*buf, 4096, 0}}));

  // Sequential 64 KiB requests, one at a time, each a round trip through the channel.
  auto sequential = [&](uint32_t op) {
    constexpr uint32_t kChunk = 64 << 10, kTotal = 16 << 20;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint32_t at = 0; at < kTotal; at += kChunk)
      if (!domain_->block_request(0, op, at / 512, kChunk / 512, {{*buf + at % (4u << 20), kChunk, 0}})) return 0.0;
    return kTotal / 1e6 / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  const double write_mbs = sequential(SIDE_BLOCK_WRITE), read_mbs = sequential(SIDE_BLOCK_READ);
  EXPECT_GT(write_mbs, 0.0);
  EXPECT_GT(read_mbs, 0.0);
  std::printf(
      "isolated virtio_blk on qemu:virtio-blk-pci: probe %.1f ms; sequential 64 KiB write %.1f MB/s, read %.1f "
      "MB/s\n",
      probe_ms, write_mbs, read_mbs);
  ASSERT_TRUE(domain_->remove(*pdev));
  EXPECT_EQ(machine_->dma(*dev).live_mappings(), 0u);
  EXPECT_TRUE(domain_->unload("virtio_blk"));
  EXPECT_TRUE(domain_->faults().empty());
  domain_->shutdown();
}

}  // namespace
