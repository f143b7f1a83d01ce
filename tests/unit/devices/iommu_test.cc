#include "devices/iommu/iommu.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

#include "devices/iommu/iova_allocator.h"

namespace side::iommu {
namespace {

constexpr size_t kArena = 16 * kPageSize;

struct IommuTest : ::testing::Test {
  std::vector<uint8_t> arena = std::vector<uint8_t>(kArena, 0);
  Iommu mmu{arena.data(), arena.size(), 4};
};

TEST_F(IommuTest, MapValidation) {
  EXPECT_FALSE(mmu.map(0x1000, 0, 0, Perm::kBidirectional));             // zero length
  EXPECT_FALSE(mmu.map(0x1001, 0, kPageSize, Perm::kBidirectional));     // iova misaligned
  EXPECT_FALSE(mmu.map(0x1000, 0x10, kPageSize, Perm::kBidirectional));  // arena misaligned
  EXPECT_FALSE(mmu.map(0x1000, 0, 100, Perm::kBidirectional));           // length misaligned
  EXPECT_FALSE(mmu.map(0x1000, 0, kPageSize, Perm::kNone));              // no permission
  EXPECT_FALSE(mmu.map(0x1000, kArena, kPageSize, Perm::kDeviceRead));   // past the arena
  EXPECT_FALSE(mmu.map(0x1000, kArena - kPageSize, 2 * kPageSize, Perm::kDeviceRead));
  EXPECT_FALSE(mmu.map(~uint64_t{0} & ~kPageMask, 0, 2 * kPageSize, Perm::kDeviceRead));   // iova wraps
  EXPECT_FALSE(mmu.map(0x1000, ~uint64_t{0} & ~kPageMask, kPageSize, Perm::kDeviceRead));  // offset overflow
  ASSERT_TRUE(mmu.map(0x10000, 0, 2 * kPageSize, Perm::kBidirectional));
  EXPECT_FALSE(mmu.map(0x11000, 4 * kPageSize, kPageSize, Perm::kDeviceRead));     // overlaps the tail
  EXPECT_FALSE(mmu.map(0xf000, 4 * kPageSize, 2 * kPageSize, Perm::kDeviceRead));  // overlaps the head
  EXPECT_TRUE(mmu.map(0xf000, 4 * kPageSize, kPageSize, Perm::kDeviceRead));       // adjacent is fine
  EXPECT_TRUE(mmu.map(0x12000, 4 * kPageSize, kPageSize, Perm::kDeviceRead));      // arena aliasing allowed
  EXPECT_EQ(mmu.mapping_count(), 3u);
  EXPECT_EQ(mmu.mapped_pages(), 4u);
  EXPECT_EQ(mmu.counters().rejected_maps, 11u);
}

TEST_F(IommuTest, CrossPageDmaUsesEachPagesTranslation) {
  // Two IOVA-contiguous pages backed by non-contiguous arena pages 5 and 2.
  ASSERT_TRUE(mmu.map(0x40000, 5 * kPageSize, kPageSize, Perm::kBidirectional));
  ASSERT_TRUE(mmu.map(0x41000, 2 * kPageSize, kPageSize, Perm::kBidirectional));
  std::vector<uint8_t> src(300);
  std::iota(src.begin(), src.end(), 0);
  ASSERT_TRUE(mmu.dma_write(0x40f00, src.data(), src.size()));
  EXPECT_EQ(0, std::memcmp(&arena[5 * kPageSize + 0xf00], src.data(), 256));
  EXPECT_EQ(0, std::memcmp(&arena[2 * kPageSize], src.data() + 256, 44));
  std::vector<uint8_t> back(300);
  ASSERT_TRUE(mmu.dma_read(0x40f00, back.data(), back.size()));
  EXPECT_EQ(back, src);
  auto t = mmu.translate(0x41010, Direction::kDeviceRead);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, 2 * kPageSize + 0x10);
}

TEST_F(IommuTest, DirectionIsEnforced) {
  ASSERT_TRUE(mmu.map(0x1000, 0, kPageSize, Perm::kDeviceRead));           // DMA_TO_DEVICE
  ASSERT_TRUE(mmu.map(0x2000, kPageSize, kPageSize, Perm::kDeviceWrite));  // DMA_FROM_DEVICE
  uint8_t b[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_TRUE(mmu.dma_read(0x1000, b, 8));
  EXPECT_FALSE(mmu.dma_write(0x1000, b, 8));
  EXPECT_TRUE(mmu.dma_write(0x2000, b, 8));
  EXPECT_FALSE(mmu.dma_read(0x2000, b, 8));
  Counters c = mmu.counters();
  EXPECT_EQ(c.faults, 2u);
  EXPECT_EQ(c.faults_permission, 2u);
  auto f = mmu.recent_faults();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].iova, 0x1000u);
  EXPECT_EQ(f[0].direction, Direction::kDeviceWrite);
  EXPECT_EQ(f[0].reason, FaultReason::kPermission);
  EXPECT_EQ(f[1].direction, Direction::kDeviceRead);
  EXPECT_EQ(f[1].sequence, 2u);
}

TEST_F(IommuTest, ProtectChangesPermissionInPlace) {
  ASSERT_TRUE(mmu.map(0x10000, 0, kPageSize, Perm::kDeviceRead));
  uint8_t b = 1;
  EXPECT_TRUE(mmu.dma_read(0x10000, &b, 1));  // the translation is now in the IOTLB
  EXPECT_FALSE(mmu.dma_write(0x10000, &b, 1));
  ASSERT_TRUE(mmu.protect(0x10000, kPageSize, Perm::kBidirectional));
  EXPECT_TRUE(mmu.dma_write(0x10000, &b, 1));
  ASSERT_TRUE(mmu.protect(0x10000, kPageSize, Perm::kDeviceRead));
  EXPECT_FALSE(mmu.dma_write(0x10000, &b, 1));  // the cached translation went with the change
  EXPECT_EQ(mmu.mapping_count(), 1u);
  // Only whole mappings, never none (that is unmap), never what is not mapped.
  EXPECT_FALSE(mmu.protect(0x10000, kPageSize, Perm::kNone));
  EXPECT_FALSE(mmu.protect(0x20000, kPageSize, Perm::kDeviceRead));
  EXPECT_FALSE(mmu.protect(0x10000, 2 * kPageSize, Perm::kDeviceRead));
}

TEST_F(IommuTest, PartiallyPermittedDmaIsNotPerformed) {
  ASSERT_TRUE(mmu.map(0x1000, 0, kPageSize, Perm::kBidirectional));
  // Page 0x2000 unmapped: a write spanning both pages must leave page 0x1000 untouched.
  std::vector<uint8_t> src(0x200, 0xab);
  EXPECT_FALSE(mmu.dma_write(0x1f00, src.data(), src.size()));
  EXPECT_EQ(arena[0xf00], 0);
  EXPECT_EQ(arena[0xfff], 0);
  auto f = mmu.recent_faults();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].fault_page, 0x2000u);
  EXPECT_EQ(f[0].length, 0x200u);
  EXPECT_EQ(f[0].reason, FaultReason::kUnmapped);
  // Wrap-around is an overflow fault, not a crash.
  uint8_t b[16];
  EXPECT_FALSE(mmu.dma_read(~uint64_t{0} - 4, b, 16));
  EXPECT_EQ(mmu.counters().faults_overflow, 1u);
  EXPECT_TRUE(mmu.dma_read(0x5000, b, 0));  // zero-length never faults
}

TEST_F(IommuTest, FaultLogIsBounded) {
  uint8_t b[4];
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(mmu.dma_read(0x100000 + i * kPageSize, b, 4));
  auto f = mmu.recent_faults();
  ASSERT_EQ(f.size(), 4u);  // capacity given in the fixture
  EXPECT_EQ(f.front().sequence, 7u);
  EXPECT_EQ(f.back().iova, 0x100000u + 9 * kPageSize);
  EXPECT_EQ(mmu.counters().faults, 10u);
}

TEST_F(IommuTest, UnmapInvalidatesPretranslation) {
  ASSERT_TRUE(mmu.map(0x7000, 3 * kPageSize, kPageSize, Perm::kBidirectional));
  uint8_t b[4] = {9, 9, 9, 9};
  ASSERT_TRUE(mmu.dma_write(0x7000, b, 4));  // miss, fills the IOTLB
  ASSERT_TRUE(mmu.dma_write(0x7004, b, 4));  // hit
  EXPECT_GE(mmu.counters().iotlb_hits, 1u);
  ASSERT_TRUE(mmu.unmap(0x7000, kPageSize));
  EXPECT_FALSE(mmu.dma_write(0x7008, b, 4));  // must not use the cached translation
  EXPECT_EQ(arena[3 * kPageSize + 8], 0);
  // Remap the same IOVA elsewhere: the new translation is used.
  ASSERT_TRUE(mmu.map(0x7000, 6 * kPageSize, kPageSize, Perm::kDeviceWrite));
  ASSERT_TRUE(mmu.dma_write(0x7000, b, 4));
  EXPECT_EQ(arena[6 * kPageSize], 9);
  // An IOVA aliasing the same IOTLB slot (64 pages apart) does not hit the other's entry.
  ASSERT_TRUE(mmu.map(0x7000 + 64 * kPageSize, 7 * kPageSize, kPageSize, Perm::kDeviceWrite));
  ASSERT_TRUE(mmu.dma_write(0x7000 + 64 * kPageSize, b, 1));
  EXPECT_EQ(arena[7 * kPageSize], 9);
  EXPECT_EQ(arena[6 * kPageSize + 0], 9);
}

TEST_F(IommuTest, UnmapMustMatchWholeMappings) {
  ASSERT_TRUE(mmu.map(0x10000, 0, 2 * kPageSize, Perm::kBidirectional));
  ASSERT_TRUE(mmu.map(0x12000, 2 * kPageSize, kPageSize, Perm::kBidirectional));
  EXPECT_FALSE(mmu.unmap(0x10000, kPageSize));      // half a mapping
  EXPECT_FALSE(mmu.unmap(0x11000, kPageSize));      // not a mapping start
  EXPECT_FALSE(mmu.unmap(0x10000, 4 * kPageSize));  // runs into a hole
  EXPECT_FALSE(mmu.unmap(0x10001, kPageSize));      // misaligned
  EXPECT_EQ(mmu.mapping_count(), 2u);
  EXPECT_TRUE(mmu.unmap(0x10000, 3 * kPageSize));  // two whole mappings at once
  EXPECT_EQ(mmu.mapping_count(), 0u);
  EXPECT_EQ(mmu.mapped_pages(), 0u);
}

TEST_F(IommuTest, MappingCountsReturnToBaselineAfterCycles) {
  IovaAllocator alloc(0x100000, 0x100000);
  ASSERT_TRUE(mmu.map(0x1000, 0, kPageSize, Perm::kBidirectional));  // a long-lived mapping
  size_t base_maps = mmu.mapping_count(), base_pages = mmu.mapped_pages();
  for (int round = 0; round < 50; ++round) {
    std::vector<std::pair<uint64_t, uint64_t>> live;
    for (int i = 0; i < 5; ++i) {
      uint64_t len = (i % 3 + 1) * kPageSize;
      auto iova = alloc.allocate(len);
      ASSERT_TRUE(iova);
      ASSERT_TRUE(mmu.map(*iova, (i % 8) * kPageSize, len, Perm::kDeviceRead));
      live.emplace_back(*iova, len);
    }
    for (auto [iova, len] : live) {
      ASSERT_TRUE(mmu.unmap(iova, len));
      ASSERT_TRUE(alloc.free(iova, len));
    }
  }
  EXPECT_EQ(mmu.mapping_count(), base_maps);
  EXPECT_EQ(mmu.mapped_pages(), base_pages);
  EXPECT_EQ(alloc.allocation_count(), 0u);
  EXPECT_EQ(alloc.allocated_bytes(), 0u);
  mmu.unmap_all();
  EXPECT_EQ(mmu.mapping_count(), 0u);
}

// A burst checks and moves data as the single calls do, faults included, and no mapping changes while it lasts: an
// unmap from another thread waits for its end, so a buffer checked in a burst is still there when it is written.
TEST_F(IommuTest, ABurstChecksAsTheSingleCallsDoAndHoldsOffUnmapsUntilItEnds) {
  ASSERT_TRUE(mmu.map(0x1000, 0, kPageSize, Perm::kDeviceRead));
  ASSERT_TRUE(mmu.map(0x2000, kPageSize, kPageSize, Perm::kDeviceWrite));
  std::atomic<bool> unmapped{false};
  std::thread unmapper;
  {
    auto dma = mmu.burst();
    const uint8_t data[4] = {1, 2, 3, 4};
    EXPECT_TRUE(dma.probe(0x2000, sizeof data, Direction::kDeviceWrite));
    EXPECT_FALSE(dma.dma_write(0x1000, data, sizeof data));      // read-only for the device
    EXPECT_FALSE(dma.probe(0x3000, 1, Direction::kDeviceRead));  // unmapped
    unmapper = std::thread([&] {
      EXPECT_TRUE(mmu.unmap(0x2000, kPageSize));
      unmapped = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(unmapped.load()) << "the unmap went through during the burst";
    EXPECT_TRUE(dma.dma_write(0x2000 + 8, data, sizeof data));
    uint8_t back[4] = {};
    EXPECT_FALSE(dma.dma_read(0x2000 + 8, back, sizeof back));  // write-only for the device
  }
  unmapper.join();
  EXPECT_TRUE(unmapped.load());
  EXPECT_EQ(0, std::memcmp(&arena[kPageSize + 8], "\x01\x02\x03\x04", 4));
  EXPECT_EQ(mmu.counters().faults, 3u);
  EXPECT_EQ(mmu.counters().dma_writes, 1u);
  uint8_t byte = 0;
  EXPECT_FALSE(mmu.dma_write(0x2000, &byte, 1)) << "unmapped once the burst ended";
}

TEST(IovaAllocator, FirstFitAlignmentCoalescing) {
  IovaAllocator a(0, 16 * kPageSize);
  auto x = a.allocate(1);
  ASSERT_TRUE(x);
  EXPECT_EQ(*x, kPageSize);  // IOVA 0 is never handed out
  auto y = a.allocate(2 * kPageSize, 4 * kPageSize);
  ASSERT_TRUE(y);
  EXPECT_EQ(*y % (4 * kPageSize), 0u);
  EXPECT_FALSE(a.allocate(0));
  EXPECT_FALSE(a.allocate(kPageSize, 3 * kPageSize));  // alignment not a power of two
  EXPECT_FALSE(a.allocate(64 * kPageSize));            // too big
  EXPECT_FALSE(a.free(*y, kPageSize));                 // wrong length
  EXPECT_FALSE(a.free(*y + kPageSize, kPageSize));     // not an allocation
  ASSERT_TRUE(a.free(*x, 1));
  ASSERT_TRUE(a.free(*y, 2 * kPageSize));
  // Everything coalesced: the whole space (minus page 0) is one block again.
  auto all = a.allocate(15 * kPageSize);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, kPageSize);
}

}  // namespace
}  // namespace side::iommu
