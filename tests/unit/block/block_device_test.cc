// The request contract every exported disk obeys (block_device.h), checked where it is enforced: check_request()
// and BlockDevice::submit()/drain() over a disk whose completions the test controls.
#include "block/block_device.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "manual_disk.h"

namespace side::block {
namespace {

using namespace std::chrono_literals;
using test::ManualDisk;

Geometry geometry() {
  Geometry g;
  g.logical_block_size = 4096;
  g.capacity = 1 << 20;
  g.max_transfer = 64 << 10;
  g.max_discard = 256 << 10;
  g.queue_depth = 2;
  g.flush = g.fua = g.discard = g.write_zeroes = true;
  return g;
}

TEST(CheckRequest, AcceptsAlignedRequestsWithinTheDisk) {
  const Geometry g = geometry();
  uint8_t buf[1];
  EXPECT_EQ(check_request(g, {Op::kRead, 0, 0, 4096, buf}), 0);
  EXPECT_EQ(check_request(g, {Op::kWrite, kFua, (1 << 20) - 65536, 65536, buf}), 0);
  EXPECT_EQ(check_request(g, {Op::kFlush, 0, 0, 0, nullptr}), 0);
  EXPECT_EQ(check_request(g, {Op::kDiscard, 0, 0, 256 << 10, nullptr}), 0);
  EXPECT_EQ(check_request(g, {Op::kWriteZeroes, kNoUnmap | kFua, 4096, 8192, nullptr}), 0);
}

TEST(CheckRequest, RefusesWhatBreaksTheContract) {
  const Geometry g = geometry();
  uint8_t buf[1];
  EXPECT_EQ(check_request(g, {Op::kRead, 0, 512, 4096, buf}), EINVAL) << "misaligned offset";
  EXPECT_EQ(check_request(g, {Op::kRead, 0, 0, 512, buf}), EINVAL) << "misaligned length";
  EXPECT_EQ(check_request(g, {Op::kRead, 0, 0, 0, buf}), EINVAL) << "zero length";
  EXPECT_EQ(check_request(g, {Op::kRead, 0, 0, 128 << 10, buf}), EINVAL) << "longer than max_transfer";
  EXPECT_EQ(check_request(g, {Op::kRead, 0, 0, 4096, nullptr}), EINVAL) << "no buffer";
  EXPECT_EQ(check_request(g, {Op::kDiscard, 0, 0, 4096, buf}), EINVAL) << "a buffer where none belongs";
  EXPECT_EQ(check_request(g, {Op::kRead, kFua, 0, 4096, buf}), EINVAL) << "FUA on a read";
  EXPECT_EQ(check_request(g, {Op::kWrite, kNoUnmap, 0, 4096, buf}), EINVAL) << "NoUnmap on a write";
  EXPECT_EQ(check_request(g, {Op::kWrite, 1u << 7, 0, 4096, buf}), EINVAL) << "unknown flag";
  EXPECT_EQ(check_request(g, {Op::kFlush, 0, 4096, 0, nullptr}), EINVAL) << "flush with an offset";
  EXPECT_EQ(check_request(g, {Op::kRead, 0, 1 << 20, 4096, buf}), ENOSPC) << "past the end";
  EXPECT_EQ(check_request(g, {Op::kWrite, 0, UINT64_MAX - 4095, 4096, buf}), ENOSPC) << "an offset that wraps";
  EXPECT_EQ(check_request(g, {Op::kWrite, 0, (1 << 20) - 4096 * 16, 65536, buf}), 0);
  EXPECT_EQ(check_request(g, {Op::kWrite, 0, (1 << 20) - 4096, 8192, buf}), ENOSPC) << "crossing the end";
}

TEST(CheckRequest, RefusesWhatTheGeometryDoesNotOffer) {
  Geometry g = geometry();
  g.flush = g.fua = g.discard = g.write_zeroes = false;
  uint8_t buf[1];
  EXPECT_EQ(check_request(g, {Op::kFlush, 0, 0, 0, nullptr}), EOPNOTSUPP);
  EXPECT_EQ(check_request(g, {Op::kDiscard, 0, 0, 4096, nullptr}), EOPNOTSUPP);
  EXPECT_EQ(check_request(g, {Op::kWriteZeroes, 0, 0, 4096, nullptr}), EOPNOTSUPP);
  EXPECT_EQ(check_request(g, {Op::kWrite, kFua, 0, 4096, buf}), EINVAL);
  g.read_only = true;
  EXPECT_EQ(check_request(g, {Op::kWrite, 0, 0, 4096, buf}), EROFS);
  EXPECT_EQ(check_request(g, {Op::kRead, 0, 0, 4096, buf}), 0);
}

TEST(Geometry, ValidOnlyWhenExportable) {
  Geometry g = geometry();
  EXPECT_TRUE(geometry_valid(g));
  g.logical_block_size = 1000;
  EXPECT_FALSE(geometry_valid(g));
  g = geometry();
  g.capacity = 4096 * 3 + 1;
  EXPECT_FALSE(geometry_valid(g));
  g = geometry();
  g.max_transfer = 0;
  EXPECT_FALSE(geometry_valid(g));
  g = geometry();
  g.queue_depth = 0;
  EXPECT_FALSE(geometry_valid(g));
}

TEST(BlockDevice, CompletesOutOfOrderAndBoundsTheQueue) {
  ManualDisk disk(geometry());
  std::vector<uint8_t> a(4096, 0xaa), b(4096, 0xbb);
  std::vector<int> order;
  ASSERT_EQ(disk.submit(
                {Op::kWrite, 0, 0, 4096, a.data()}, [&](int s) { order.push_back(1 + s); }, 0ms),
            0);
  ASSERT_EQ(disk.submit(
                {Op::kWrite, 0, 4096, 4096, b.data()}, [&](int s) { order.push_back(2 + s); }, 0ms),
            0);
  EXPECT_EQ(disk.submit(
                {Op::kFlush, 0, 0, 0, nullptr}, [](int) {}, 20ms),
            EAGAIN)
      << "queue depth is 2";
  disk.complete(1);
  disk.complete(0);
  EXPECT_EQ(order, (std::vector<int>{2, 1}));
  EXPECT_EQ(disk.bytes()[0], 0xaa);
  EXPECT_EQ(disk.bytes()[4096], 0xbb);
  EXPECT_EQ(disk.in_flight(), 0u);
}

TEST(BlockDevice, ASlotFreedWakesAWaitingSubmitter) {
  ManualDisk disk(geometry());
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(disk.submit(
                  {Op::kFlush, 0, 0, 0, nullptr}, [](int) {}, 0ms),
              0);
  std::thread later([&] {
    std::this_thread::sleep_for(50ms);
    disk.complete(0);
  });
  EXPECT_EQ(disk.submit(
                {Op::kFlush, 0, 0, 0, nullptr}, [](int) {}, 5s),
            0);
  later.join();
  disk.complete_all();
}

TEST(BlockDevice, PassesOnOneSaneStatusPerRequest) {
  ManualDisk disk(geometry());
  std::vector<int> statuses;
  auto record = [&](int s) { statuses.push_back(s); };
  ASSERT_EQ(disk.submit({Op::kFlush, 0, 0, 0, nullptr}, record, 0ms), 0);
  ASSERT_EQ(disk.submit({Op::kFlush, 0, 0, 0, nullptr}, record, 0ms), 0);
  disk.complete_twice(0);
  disk.complete(0, -EIO);  // a negative errno, as kernel code would pass it
  EXPECT_EQ(statuses, (std::vector<int>{0, EIO}));
  EXPECT_EQ(sanitize_status(123456), EIO);
  EXPECT_EQ(sanitize_status(ENOSPC), ENOSPC);
}

TEST(BlockDevice, DrainRefusesNewRequestsAndWaitsBounded) {
  ManualDisk disk(geometry());
  ASSERT_EQ(disk.submit(
                {Op::kFlush, 0, 0, 0, nullptr}, [](int) {}, 0ms),
            0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(disk.drain(100ms), 1u) << "a request the device never completes is still in flight";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  EXPECT_EQ(disk.submit(
                {Op::kFlush, 0, 0, 0, nullptr}, [](int) {}, 0ms),
            ESHUTDOWN);
  std::thread later([&] {
    std::this_thread::sleep_for(50ms);
    disk.complete(0);
  });
  EXPECT_EQ(disk.drain(5s), 0u);
  later.join();
}

}  // namespace
}  // namespace side::block
