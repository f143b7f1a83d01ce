// The driver-backed disk against a fake domain that lies on purpose: a geometry no disk has, staging buffers outside
// the arena, completions of tags never issued or already completed, statuses no kernel returns, requests never
// completed. Each is refused or is a fault, never a completion the exporters would trust; and the verify workload,
// over a fake that serves from memory, counts every block, and counts a corrupted one as a mismatch.
#include "session/driver_disk.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "session/block_verify.h"
#include "support/disk_domain.h"

namespace side::session {
namespace {

using namespace std::chrono_literals;
using test::DiskDomain;

// A request and what its completion reported (and how often).
struct Outcome {
  std::mutex mu;
  std::condition_variable cv;
  int calls = 0, status = -1;
  bool wait(std::chrono::milliseconds t) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, t, [&] { return calls > 0; });
  }
};

block::Completion record(Outcome& o) {
  return [&o](int status) {
    std::lock_guard lock(o.mu);
    ++o.calls;
    o.status = status;
    o.cv.notify_all();
  };
}

TEST(DriverDisk, ANonsenseGeometryIsRefused) {
  DiskDomain d;
  d.info.logical_block_size = 1000;
  EXPECT_FALSE(DriverDisk::open(d, 0));
  d.info.logical_block_size = 512;
  d.info.capacity = 0;
  EXPECT_FALSE(DriverDisk::open(d, 0));
  d.info.capacity = UINT64_MAX;
  EXPECT_FALSE(DriverDisk::open(d, 0));
  d.info.capacity = 8192;
  std::memset(d.info.name, 'x', sizeof d.info.name);
  EXPECT_FALSE(DriverDisk::open(d, 0));
}

// The disk's name is the domain's string: side prints and logs it, so it reaches the terminal sanitized.
TEST(DriverDisk, TheDisksNameIsSanitizedBeforeSidePrintsIt) {
  DiskDomain d;
  std::strcpy(d.info.name, "vd\x1b[2Jz\x9b");
  auto disk = DriverDisk::open(d, 0);
  ASSERT_TRUE(disk) << disk.error().message;
  const std::string name = (*disk)->info().name;
  EXPECT_EQ(name.find('\x1b'), std::string::npos) << name;
  EXPECT_EQ(name.find('\x9b'), std::string::npos) << name;
  EXPECT_EQ(name.rfind("vd", 0), 0u) << name;
}

TEST(DriverDisk, AStagingBufferOutsideTheArenaIsRefused) {
  DiskDomain d;
  d.buffer_base = d.arena_size() - DriverDisk::kSlotBytes / 2;
  auto disk = DriverDisk::open(d, 0);
  ASSERT_FALSE(disk);
  EXPECT_NE(disk.error().message.find("outside its arena"), std::string::npos);
}

TEST(DriverDisk, OnlyATagInFlightCompletesAndOnlyOnce) {
  DiskDomain d;
  auto disk = DriverDisk::open(d, 0);
  ASSERT_TRUE(disk) << disk.error().message;
  std::vector<uint8_t> data(4096, 0x5a);
  Outcome o;
  ASSERT_EQ((*disk)->submit({block::Op::kWrite, 0, 8192, 4096, data.data()}, record(o), 1s), 0);
  for (int i = 0; i < 200 && d.submitted.empty(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(d.submitted.size(), 1u);
  const uint64_t tag = d.submitted[0].tag;
  (*disk)->block_done(tag + 1000, 0);  // never issued
  EXPECT_FALSE(o.wait(50ms));
  (*disk)->block_done(tag, 0);
  ASSERT_TRUE(o.wait(1s));
  (*disk)->block_done(tag, 0);  // a duplicate
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(o.calls, 1);
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ((*disk)->counters().stray_completions.load(), 2u);
  EXPECT_EQ(d.faults_of(SIDE_FAULT_PROTOCOL), 2u);
}

TEST(DriverDisk, AStatusNoKernelReturnsIsAnIoErrorAndAFault) {
  DiskDomain d;
  auto disk = DriverDisk::open(d, 0);
  ASSERT_TRUE(disk) << disk.error().message;
  std::vector<uint8_t> data(512);
  Outcome bad, full;
  ASSERT_EQ((*disk)->submit({block::Op::kRead, 0, 0, 512, data.data()}, record(bad), 1s), 0);
  ASSERT_EQ((*disk)->submit({block::Op::kRead, 0, 512, 512, data.data()}, record(full), 1s), 0);
  for (int i = 0; i < 200 && d.submitted.size() < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(d.submitted.size(), 2u);
  (*disk)->block_done(d.submitted[0].tag, 5);  // positive: no kernel completes with that
  (*disk)->block_done(d.submitted[1].tag, -ENOSPC);
  ASSERT_TRUE(bad.wait(1s));
  ASSERT_TRUE(full.wait(1s));
  EXPECT_EQ(bad.status, EIO);
  EXPECT_EQ(full.status, ENOSPC);  // a real errno passes through
  EXPECT_EQ((*disk)->counters().bad_status.load(), 1u);
  EXPECT_EQ(d.faults_of(SIDE_FAULT_PROTOCOL), 1u);
}

TEST(DriverDisk, ARequestNeverCompletedFailsWithinItsTimeoutAndIsAHungFault) {
  DiskDomain d;
  auto disk = DriverDisk::open(d, 0, {std::chrono::milliseconds(200), 4});
  ASSERT_TRUE(disk) << disk.error().message;
  std::vector<uint8_t> data(512);
  Outcome o;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ((*disk)->submit({block::Op::kRead, 0, 0, 512, data.data()}, record(o), 1s), 0);
  ASSERT_TRUE(o.wait(2s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
  EXPECT_EQ(o.status, EIO);
  EXPECT_EQ((*disk)->counters().timeouts.load(), 1u);
  EXPECT_EQ(d.faults_of(SIDE_FAULT_HUNG), 1u);
  (*disk)->block_done(d.submitted.at(0).tag, 0);  // too late: not in flight any more
  EXPECT_EQ(o.calls, 1);
  EXPECT_EQ((*disk)->counters().stray_completions.load(), 1u);
}

// With recovery, a request the driver never completes is a hung fault (which restarts the driver) and waits; the
// restarted driver gets it again under a new tag, and its completion is the request's. The failed driver's tag, if
// it comes late, is ignored.
TEST(DriverDisk, WithRecoveryAHungRequestIsReissuedToTheRestartedDriver) {
  DiskDomain d;
  DriverDiskOptions options;
  options.request_timeout = 200ms;
  options.slots = 2;
  options.reissue = true;
  auto disk = DriverDisk::open(d, 0, options);
  ASSERT_TRUE(disk) << disk.error().message;
  std::vector<uint8_t> data(4096, 0xa5);
  Outcome o;
  ASSERT_EQ((*disk)->submit({block::Op::kWrite, 0, 0, 4096, data.data()}, record(o), 1s), 0);
  for (int i = 0; i < 100 && d.faults_of(SIDE_FAULT_HUNG) == 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(d.faults_of(SIDE_FAULT_HUNG), 1u);
  EXPECT_EQ(o.calls, 0) << "a recovering domain's request is kept";
  d.gen = 1;  // the restarted driver
  for (int i = 0; i < 100 && d.submitted.size() < 2; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(d.submitted.size(), 2u);
  EXPECT_NE(d.submitted[1].tag, d.submitted[0].tag);
  (*disk)->block_done(d.submitted[0].tag, -EIO);  // the dead driver's, late
  EXPECT_FALSE(o.wait(50ms));
  (*disk)->block_done(d.submitted[1].tag, 0);
  ASSERT_TRUE(o.wait(1s));
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ((*disk)->counters().reissued.load(), 1u);
  EXPECT_EQ((*disk)->counters().stray_completions.load(), 0u);
}

TEST(DriverDisk, ARefusedSubmissionEndsWithAnIoErrorAtOnce) {
  DiskDomain d;
  d.refuse_submits = true;
  auto disk = DriverDisk::open(d, 0);
  ASSERT_TRUE(disk) << disk.error().message;
  std::vector<uint8_t> data(512);
  Outcome o;
  ASSERT_EQ((*disk)->submit({block::Op::kWrite, 0, 0, 512, data.data()}, record(o), 1s), 0);
  ASSERT_TRUE(o.wait(1s));
  EXPECT_EQ(o.status, EIO);
  EXPECT_EQ((*disk)->counters().errors.load(), 1u);
}

TEST(DriverDisk, TheVerifyWorkloadCountsEveryBlockAndACorruptedOne) {
  DiskDomain d;
  auto disk = DriverDisk::open(d, 0);
  ASSERT_TRUE(disk) << disk.error().message;
  d.auto_complete = disk->get();
  BlockVerifyConfig c;
  c.extents = 16;
  auto r = run_block_verify(**disk, c);
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_GT(r.blocks_written, 16u);
  EXPECT_EQ(r.blocks_verified, r.blocks_written);
  d.corrupt_reads = true;
  c.seed = 2;
  r = run_block_verify(**disk, c);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.blocks_mismatched, 16u);  // one flipped byte per read, one block each
  EXPECT_EQ(r.blocks_verified + r.blocks_mismatched, r.blocks_written);
  (*disk)->drain(1s);
}

}  // namespace
}  // namespace side::session
