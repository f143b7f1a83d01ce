// `side run virtio_blk` (and `side run nvme`) end to end: Debian's unmodified virtio_blk in a domain process on QEMU's
// virtio-blk-pci, its disk verified by the built-in workload, and exported to ordinary programs: patterns written and
// read back byte for byte through NBD (nbdcopy) and FUSE (dd), each export seeing the other's writes, and an ext4 made
// on the FUSE file that fsck finds clean, on the file and on the image behind it after side stopped. Nothing outlives
// side (no QEMU, no temporary image). Skipped, saying why, when QEMU with the vfio-user server, FUSE or the tools are
// missing.
#include "session/block_session.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "common/sanitizer.h"
#include "support/shell.h"

namespace {

std::string run(const std::string& command, int* status) {
  return side::test_support::run_shell(command, status);
}

bool have(const std::string& tool) {
  int status = -1;
  run("command -v " + tool + " >/dev/null 2>&1", &status);
  return status == 0;
}

// QEMU processes of this test's sides, and anything left in its private $TMPDIR but what the test put there.
int leftovers(const std::string& tmpdir) {
  int n = 0;
  for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmdline(proc.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (args.find("x-vfio-user-server") != std::string::npos && args.find("path=" + tmpdir + "/") != std::string::npos)
      ++n;
  }
  for (const auto& e : std::filesystem::directory_iterator(tmpdir))
    n += !e.path().filename().string().starts_with("t-");
  return n;
}

class BlockSession : public ::testing::Test {
 protected:
  void SetUp() override {
    int status = -1;
    run(std::string(SIDE_BUILD_QEMU) + " --check 2>&1", &status);
    if (status != 0) GTEST_SKIP() << "QEMU with the vfio-user server is not built: run scripts/build-qemu.sh";
    char tmpl[] = "/tmp/side-block-session-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmpdir_ = tmpl;
    std::filesystem::permissions(tmpdir_, std::filesystem::perms(0755));  // QEMU runs as nobody
  }
  void TearDown() override {
    if (tmpdir_.empty()) return;
    EXPECT_EQ(leftovers(tmpdir_), 0) << "a QEMU process or a file of side's outlived it";
    std::filesystem::remove_all(tmpdir_);
  }
  // side run DRIVER OPTIONS --json: its report (stdout), the exit status in *status. With print_pid, side's pid is
  // read into side_pid_ first (`exec` keeps the shell's).
  nlohmann::json side_run(const std::string& options, int* status, bool print_pid = false) {
    std::string qemu = run(std::string(SIDE_BUILD_QEMU) + " --print-path", status);
    while (!qemu.empty() && qemu.back() == '\n') qemu.pop_back();
    std::string out =
        run(std::string(print_pid ? "echo $$; " : "") + "TMPDIR='" + tmpdir_ + "' SIDE_QEMU='" + qemu + "' exec " +
                std::string(SIDE_BINARY) + " run " + driver_ + " --json " + options + " 2>'" + tmpdir_ + "/t-stderr'",
            status);
    if (print_pid) {
      const size_t eol = out.find('\n');
      side_pid_ = std::atoi(out.substr(0, eol).c_str());
      out = eol == std::string::npos ? "" : out.substr(eol + 1);
    }
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "no JSON report: " << out;
    return j;
  }

  // The issue's checks, each run for every block driver (below).
  void killed_three_times_under_verify();
  void ext4_with_200_files();
  void fio_verified_writes_through_five_kills();

  std::string tmpdir_;
  std::string driver_ = "virtio_blk";
  int side_pid_ = 0;
};

TEST_F(BlockSession, VerifyCountsEveryBlockThroughTheIsolatedDriver) {
  int status = -1;
  auto j = side_run("--verify", &status);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(status, 0) << j.dump();
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["disk"], "vda");
  EXPECT_EQ(j["geometry"]["capacity"].get<uint64_t>(), 64ull << 20);  // the default image
  const auto& v = j["verify"];
  EXPECT_GT(v["blocks_written"].get<uint64_t>(), 1000u);
  EXPECT_EQ(v["blocks_verified"], v["blocks_written"]);
  EXPECT_EQ(v["blocks_mismatched"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["request_errors"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["dma_mappings_after_remove"].get<uint64_t>(), 0u);
  EXPECT_TRUE(j["faults"].empty());
  std::printf("side run virtio_blk --verify: probe %.1f ms, %llu blocks verified, write %.3f s, read %.3f s\n",
              j["probe_ms"].get<double>(), static_cast<unsigned long long>(v["blocks_verified"].get<uint64_t>()),
              v["write_s"].get<double>(), v["read_s"].get<double>());
}

// The unisolated baseline (what `side bench --class block` compares with): the same session with the driver in
// side's own process, on a control thread of its own (there is no domain process: the domain's pid is side's), its
// disk verified block for block as the isolated one's is. A restart cannot be asked of it.
TEST_F(BlockSession, InProcessBaselineServesTheSameVerifiedDisk) {
  int status = -1;
  // `exec` keeps the shell's pid: the first line is side's own.
  auto j = side_run("--isolation inproc --verify", &status, /*print_pid=*/true);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(status, 0) << j.dump();
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["isolation"], "inproc");
  EXPECT_EQ(j["domain_pid"].get<int>(), side_pid_) << "the in-process driver runs in side's own process";
  EXPECT_EQ(j["disk"], "vda");
  const auto& v = j["verify"];
  EXPECT_GT(v["blocks_written"].get<uint64_t>(), 1000u);
  EXPECT_EQ(v["blocks_verified"], v["blocks_written"]);
  EXPECT_EQ(v["blocks_mismatched"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["request_errors"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["dma_mappings_after_remove"].get<uint64_t>(), 0u);
  EXPECT_TRUE(j["faults"].empty());
  std::string err = run("TMPDIR='" + tmpdir_ + "' " + std::string(SIDE_BINARY) +
                            " run virtio_blk --isolation inproc --nbd 0 --crash-every 1 2>&1 >/dev/null",
                        &status);
  EXPECT_EQ(status, 2) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("--isolation process"), std::string::npos) << err;
}

// The script the exports are exercised with while side serves them (--exec): patterns byte for byte through each,
// each export reading what the other wrote, sequential 64 KiB throughput, then ext4 on the FUSE file.
const char kExerciseScript[] = R"SH(set -e
D="$1"; N="nbd+unix:///side?socket=$D/t-nbd.sock"
head -c 33554432 /dev/urandom > "$D/t-pattern"
now() { date +%s.%N; }
mbs() { echo "33.554432 / ($2 - $1)" | bc -l | xargs printf '%.1f'; }
t0=$(now); nbdcopy --request-size=65536 --requests=1 --connections=1 "$D/t-pattern" "$N"; t1=$(now)
nbdcopy --request-size=65536 --requests=1 --connections=1 "$N" "$D/t-nbd-back"; t2=$(now)
cmp -n 33554432 "$D/t-nbd-back" "$D/t-pattern"
echo "nbd: sequential 64 KiB write $(mbs $t0 $t1) MB/s, read $(mbs $t1 $t2) MB/s"
t0=$(now); dd if="$D/t-pattern" of="$D/t-disk" bs=64k seek=512 conv=notrunc,fsync status=none; t1=$(now)
dd if="$D/t-disk" of="$D/t-fuse-back" bs=64k skip=512 count=512 iflag=direct status=none; t2=$(now)
cmp "$D/t-fuse-back" "$D/t-pattern"
echo "fuse: sequential 64 KiB write $(mbs $t0 $t1) MB/s, read $(mbs $t1 $t2) MB/s"
printf 'odd bytes at an odd place' | dd of="$D/t-disk" bs=1 seek=1000003 conv=notrunc status=none
nbdcopy "$N" "$D/t-all"
cmp <(dd if="$D/t-all" bs=64k skip=512 count=512 status=none) "$D/t-pattern"
test "$(dd if="$D/t-all" bs=1 skip=1000003 count=25 status=none)" = 'odd bytes at an odd place'
mkfs.ext4 -F -q "$D/t-disk"
fsck.ext4 -n -f "$D/t-disk" >/dev/null
echo exercised
)SH";

TEST_F(BlockSession, NbdAndFuseExportsCarryPatternsByteForByteAndAnExt4) {
  for (const char* tool : {"nbdcopy", "mkfs.ext4", "fsck.ext4", "bc"}) {
    if (!have(tool)) GTEST_SKIP() << tool << " is not installed";
  }
  if (!std::filesystem::exists("/dev/fuse")) GTEST_SKIP() << "no /dev/fuse";
  std::ofstream(tmpdir_ + "/t-exercise.sh") << kExerciseScript;
  const std::string image = tmpdir_ + "/t-image";
  int status = -1;
  auto j =
      side_run("--disk " + image + " --nbd " + tmpdir_ + "/t-nbd.sock --fuse " + tmpdir_ + "/t-disk --exec 'bash " +
                   tmpdir_ + "/t-exercise.sh " + tmpdir_ + " >" + tmpdir_ + "/t-out 2>&1'",
               &status);
  std::ifstream out_file(tmpdir_ + "/t-out");
  const std::string out((std::istreambuf_iterator<char>(out_file)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(j["exec_status"].get<int>(), 0) << out;
  EXPECT_NE(out.find("exercised"), std::string::npos) << out;
  EXPECT_TRUE(j["faults"].empty());
  EXPECT_EQ(j["request_errors"].get<uint64_t>(), 0u);
  std::printf("%s", out.c_str());
  // The filesystem is in the image itself, flushed through the driver.
  run("fsck.ext4 -n -f '" + image + "' >/dev/null 2>&1", &status);
  EXPECT_EQ(status, 0) << "the image behind the disk holds no clean ext4";
  EXPECT_FALSE(std::filesystem::exists(tmpdir_ + "/t-nbd.sock")) << "the NBD socket outlived side";
}

// The issue's filesystem check (virtio_blk and nvme): ext4 made on the FUSE file, loop-mounted, 200 files of known
// SHA-256 written, unmounted, fsck -n clean, mounted again and every sum verified; the disk read through NBD by nbdcopy
// is the FUSE file byte for byte.
const char kFilesScript[] = R"SH(set -e
D="$1"; M="$D/t-mnt"; mkdir -p "$M"
mkfs.ext4 -F -q "$D/t-disk"
mount -o loop "$D/t-disk" "$M"
for i in $(seq 1 200); do head -c $((i * 977)) /dev/urandom > "$M/f$i"; done
(cd "$M" && sha256sum f* > "$D/t-sums")
umount "$M"
fsck.ext4 -n -f "$D/t-disk" >/dev/null
mount -o loop,ro "$D/t-disk" "$M"
(cd "$M" && sha256sum --quiet -c "$D/t-sums")
umount "$M"
nbdcopy "nbd+unix:///side?socket=$D/t-nbd.sock" "$D/t-nbd-copy"
cmp "$D/t-nbd-copy" "$D/t-disk"
echo "200 files verified"
)SH";

TEST_F(BlockSession, Ext4On200FilesWithKnownSumsSurvivesARemountAndNbdReadsTheSameDisk) {
  ext4_with_200_files();
}

void BlockSession::ext4_with_200_files() {
  if (geteuid() != 0) GTEST_SKIP() << "mount -o loop needs root";
  for (const char* tool : {"nbdcopy", "mkfs.ext4", "fsck.ext4", "sha256sum"}) {
    if (!have(tool)) GTEST_SKIP() << tool << " is not installed";
  }
  if (!std::filesystem::exists("/dev/fuse")) GTEST_SKIP() << "no /dev/fuse";
  std::ofstream(tmpdir_ + "/t-files.sh") << kFilesScript;
  int status = -1;
  auto j = side_run("--nbd " + tmpdir_ + "/t-nbd.sock --fuse " + tmpdir_ + "/t-disk --exec 'bash " + tmpdir_ +
                        "/t-files.sh " + tmpdir_ + " >" + tmpdir_ + "/t-out 2>&1'",
                    &status);
  std::ifstream out_file(tmpdir_ + "/t-out");
  const std::string out((std::istreambuf_iterator<char>(out_file)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(j["exec_status"].get<int>(), 0) << out;
  EXPECT_NE(out.find("200 files verified"), std::string::npos) << out;
  EXPECT_TRUE(j["faults"].empty());
  EXPECT_EQ(j["request_errors"].get<uint64_t>(), 0u);
  std::filesystem::remove(tmpdir_ + "/t-mnt");
}

// The issue's recovery check (virtio_blk and nvme): fio's random writes with crc32c verification through the FUSE file
// while side kills the driver's domain five times: fio reports no error and no verification failure.
TEST_F(BlockSession, FioVerifiedWritesThroughFuseSurviveFiveKills) {
  fio_verified_writes_through_five_kills();
}

void BlockSession::fio_verified_writes_through_five_kills() {
  if (!have("fio")) GTEST_SKIP() << "fio is not installed";
  if (!std::filesystem::exists("/dev/fuse")) GTEST_SKIP() << "no /dev/fuse";
  const std::string disk = tmpdir_ + "/t-disk", report = tmpdir_ + "/t-fio";
  int status = -1;
  // Long enough for the five kills (2 s) many times over: 128 MiB, or 48 under the sanitizers (several times slower).
  const std::string loops = side::kSanitizerBuild ? "3" : "8";
  auto j = side_run("--fuse " + disk + " --crash-every 0.4 --crashes 5 --exec 'fio --name=v --filename=" + disk +
                        " --rw=randwrite --bs=4k --size=16M --loops=" + loops +
                        " --verify=crc32c --ioengine=psync --direct=1 "
                        "--verify_state_save=0 "
                        "--output=" +
                        report + "'",
                    &status);
  std::ifstream in(report);
  const std::string fio((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(status, 0) << fio;
  EXPECT_EQ(j["exec_status"].get<int>(), 0) << fio;
  EXPECT_NE(fio.find("err= 0"), std::string::npos) << fio;
  EXPECT_EQ(fio.find("verify:"), std::string::npos) << fio;  // fio names every verification failure so
  EXPECT_EQ(j["recoveries"].size(), 5u) << j.dump();
  EXPECT_EQ(j["request_errors"].get<uint64_t>(), 0u);
  EXPECT_FALSE(j["gave_up"].get<bool>());
  std::printf("fio --verify=crc32c through FUSE, 5 kills: %u recoveries, %llu requests reissued\n",
              static_cast<unsigned>(j["recoveries"].size()),
              static_cast<unsigned long long>(j["reissued"].get<uint64_t>()));
}

// The domain killed three times while the workload runs, each time just after a request completed (so the kill
// meets the next one in flight, writes and reads alike): the driver is restarted, the requests it did not complete
// are submitted again, and every block still verifies, with no request failed.
TEST_F(BlockSession, KilledThreeTimesUnderVerifyEveryBlockStillVerifies) {
  killed_three_times_under_verify();
}

void BlockSession::killed_three_times_under_verify() {
  int status = -1;
  std::string qemu = run(std::string(SIDE_BUILD_QEMU) + " --print-path", &status);
  while (!qemu.empty() && qemu.back() == '\n') qemu.pop_back();
  setenv("TMPDIR", tmpdir_.c_str(), 1);
  side::session::BlockSessionConfig c;
  c.domain.kapi_path = SIDE_TEST_KAPI;
  c.domain.symvers_path = SIDE_TEST_SYMVERS;
  c.domain.modules_dir = SIDE_TEST_MODULE_CACHE;
  c.domain.virtual_time = false;
  c.executable = SIDE_BINARY;
  c.qemu_binary = qemu;
  c.module = driver_;
  c.verify = true;
  c.announce = false;
  c.policy = side::supervisor::RecoveryPolicy::for_deliberate_faults(5);
  c.kill_after_requests = {10, 50, 100};  // 64 writes, then 64 reads
  const auto r = side::session::run_block_session(c);
  unsetenv("TMPDIR");
  EXPECT_TRUE(r.error.empty()) << r.error;
  ASSERT_TRUE(r.verify);
  EXPECT_TRUE(r.verify->ok()) << r.verify->error;
  EXPECT_GT(r.verify->blocks_written, 1000u);
  EXPECT_EQ(r.verify->blocks_verified, r.verify->blocks_written);
  EXPECT_EQ(r.verify->blocks_mismatched, 0u);
  EXPECT_EQ(r.kills, 3u);
  EXPECT_EQ(r.recoveries.size(), 3u);
  EXPECT_FALSE(r.gave_up);
  EXPECT_EQ(r.request_errors, 0u);
  EXPECT_TRUE(r.ok());
  std::printf("killed %u times under --verify: %u recoveries, %llu requests reissued, %llu blocks verified\n", r.kills,
              static_cast<unsigned>(r.recoveries.size()), static_cast<unsigned long long>(r.reissued),
              static_cast<unsigned long long>(r.verify->blocks_verified));
}

}  // namespace

// The same disk session with Debian's nvme (and nvme-core, t10-pi, crc-t10dif, crc64-rocksoft) on QEMU's NVMe
// controller: its probe returns before the disk exists (reset and namespace scan run on the domain's workqueue),
// the admin queue and an I/O queue serve the verified workload, an ext4 made through the FUSE file is clean on the
// image, and remove leaves no DMA mapping.
class NvmeSession : public BlockSession {
 protected:
  NvmeSession() { driver_ = "nvme"; }
};

TEST_F(NvmeSession, VerifyCountsEveryBlockThroughTheIsolatedDriver) {
  int status = -1;
  auto j = side_run("--verify", &status);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(status, 0) << j.dump();
  EXPECT_TRUE(j["ok"].get<bool>());
  EXPECT_EQ(j["device"], "1b36:0010 0000:00:03.0");
  EXPECT_EQ(j["disk"], "nvme0n1");
  EXPECT_EQ(j["geometry"]["capacity"].get<uint64_t>(), 64ull << 20);
  EXPECT_EQ(j["geometry"]["logical_block_size"].get<uint64_t>(), 512u);
  const auto& v = j["verify"];
  EXPECT_GT(v["blocks_written"].get<uint64_t>(), 1000u);
  EXPECT_EQ(v["blocks_verified"], v["blocks_written"]);
  EXPECT_EQ(v["blocks_mismatched"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["request_errors"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["dma_mappings_after_remove"].get<uint64_t>(), 0u);
  EXPECT_TRUE(j["faults"].empty()) << j["faults"].dump();
  std::printf("side run nvme --verify: probe %.1f ms, %llu blocks verified, write %.3f s, read %.3f s\n",
              j["probe_ms"].get<double>(), static_cast<unsigned long long>(v["blocks_verified"].get<uint64_t>()),
              v["write_s"].get<double>(), v["read_s"].get<double>());
}

// A restarted nvme probes again and adds its disk from its work; the disk waits for it and the requests the
// killed one left are submitted again.
TEST_F(NvmeSession, KilledThreeTimesUnderVerifyEveryBlockStillVerifies) {
  killed_three_times_under_verify();
}

TEST_F(NvmeSession, Ext4On200FilesWithKnownSumsSurvivesARemountAndNbdReadsTheSameDisk) {
  ext4_with_200_files();
}

TEST_F(NvmeSession, FioVerifiedWritesThroughFuseSurviveFiveKills) {
  fio_verified_writes_through_five_kills();
}

TEST_F(NvmeSession, Ext4MadeThroughTheFuseFileIsCleanOnTheImage) {
  for (const char* tool : {"mkfs.ext4", "fsck.ext4"}) {
    if (!have(tool)) GTEST_SKIP() << tool << " is not installed";
  }
  if (!std::filesystem::exists("/dev/fuse")) GTEST_SKIP() << "no /dev/fuse";
  const std::string image = tmpdir_ + "/t-image", file = tmpdir_ + "/t-disk";
  int status = -1;
  auto j = side_run("--disk " + image + " --fuse " + file + " --exec 'mkfs.ext4 -F -q " + file +
                        " && fsck.ext4 -n -f " + file + " >/dev/null'",
                    &status);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(status, 0) << j.dump();
  EXPECT_EQ(j["exec_status"].get<int>(), 0) << j.dump();
  EXPECT_TRUE(j["faults"].empty()) << j["faults"].dump();
  EXPECT_EQ(j["request_errors"].get<uint64_t>(), 0u);
  EXPECT_GT(j["bytes_written"].get<uint64_t>(), 1u << 20);
  EXPECT_EQ(j["dma_mappings_after_remove"].get<uint64_t>(), 0u);
  run("fsck.ext4 -n -f '" + image + "' >/dev/null 2>&1", &status);
  EXPECT_EQ(status, 0) << "the image behind the nvme disk holds no clean ext4";
}
