// The domain's physical memory: buddy blocks, kmalloc classes, and detection of bad frees.
#include "domain/arena.h"

#include <gtest/gtest.h>

#include <set>

using side::domain::Arena;

TEST(Arena, PageBlocksSplitAndCoalesce) {
  auto a = Arena::create(4 << 20);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->nr_pages(), 1024u);
  void* p0 = a->alloc_pages(0);
  void* p1 = a->alloc_pages(3);
  ASSERT_TRUE(p0 && p1);
  EXPECT_TRUE(a->contains(p1, 8 * 4096));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p1) % (8 * 4096), reinterpret_cast<uintptr_t>(a->base()) % (8 * 4096));
  EXPECT_EQ(a->stats().pages_in_use, 9u);
  EXPECT_EQ(a->free_pages(p0, 0), Arena::FreeError::kNone);
  EXPECT_EQ(a->free_pages(p1, 3), Arena::FreeError::kNone);
  EXPECT_EQ(a->stats().pages_in_use, 0u);
  // Everything coalesced back: the whole 4 MiB block is available again.
  EXPECT_NE(a->alloc_pages(Arena::kMaxOrder), nullptr);
  EXPECT_EQ(a->alloc_pages(0), nullptr);
}

TEST(Arena, BadPageFreesAreReported) {
  auto a = Arena::create(4 << 20);
  void* p = a->alloc_pages(2);
  EXPECT_EQ(a->free_pages(p, 1), Arena::FreeError::kWrongOrder);
  EXPECT_EQ(a->free_pages(static_cast<char*>(p) + 4096, 0), Arena::FreeError::kNotAllocated);
  EXPECT_EQ(a->free_pages(reinterpret_cast<void*>(0x1000), 0), Arena::FreeError::kNotAllocated);
  EXPECT_EQ(a->free_pages(p, 2), Arena::FreeError::kNone);
  EXPECT_EQ(a->free_pages(p, 2), Arena::FreeError::kNotAllocated);
}

TEST(Arena, KmallocClassesAlignmentAndDoubleFree) {
  auto a = Arena::create(4 << 20);
  std::set<void*> seen;
  for (uint64_t size : {1, 8, 9, 96, 100, 192, 4000, 8192, 9000, 100000}) {
    void* p = a->kmalloc(size, 8);
    ASSERT_NE(p, nullptr) << size;
    EXPECT_TRUE(seen.insert(p).second);
    EXPECT_GE(a->ksize(p), size);
    EXPECT_TRUE(a->contains(p, size));
  }
  void* aligned = a->kmalloc(24, 64);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % 64, 0u);
  EXPECT_EQ(a->stats().kmalloc_objects, 11u);
  for (void* p : seen) EXPECT_TRUE(a->kfree(p));
  EXPECT_TRUE(a->kfree(aligned));
  EXPECT_FALSE(a->kfree(aligned));
  EXPECT_FALSE(a->kfree(reinterpret_cast<void*>(0x1234)));
  EXPECT_EQ(a->stats().kmalloc_objects, 0u);
  EXPECT_EQ(a->stats().kmalloc_bytes, 0u);
}

TEST(Arena, KmallocReportsUsableSizeAndLargeObjectsAreWholeBlocks) {
  auto a = Arena::create(4 << 20);
  uint64_t usable = 0;
  void* small = a->kmalloc(100, 8, &usable);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(usable, 128u);
  EXPECT_EQ(a->ksize(small), 128u);
  void* large = a->kmalloc(9000, 8, &usable);
  ASSERT_NE(large, nullptr);
  EXPECT_EQ(usable, 16384u);  // Linux's ksize of a kmalloc_large object: its whole block
  EXPECT_EQ(a->ksize(large), 16384u);
  EXPECT_EQ(a->ksize(static_cast<char*>(small) + 8), 0u);  // inside an object: not an object
  EXPECT_EQ(a->stats().kmalloc_bytes, 128u + 16384u);
  EXPECT_TRUE(a->kfree(large));
  EXPECT_EQ(a->ksize(large), 0u);
  EXPECT_TRUE(a->kfree(small));
  EXPECT_EQ(a->ksize(small), 0u);
}

// kmalloc memory is not a page block: freeing it as pages is refused, and the allocator stays whole.
TEST(Arena, FreePagesRefusesSlabsAndLargeObjects) {
  auto a = Arena::create(4 << 20);
  void* large = a->kmalloc(5000, 8);
  void* small = a->kmalloc(64, 64);
  ASSERT_TRUE(large && small);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 4096, reinterpret_cast<uintptr_t>(a->base()) % 4096);
  EXPECT_EQ(a->free_pages(large, 1), Arena::FreeError::kNotAllocated);
  EXPECT_EQ(a->free_pages(small, 0), Arena::FreeError::kNotAllocated);
  EXPECT_EQ(a->ksize(large), 8192u);
  EXPECT_TRUE(a->kfree(large));
  EXPECT_TRUE(a->kfree(small));
}

TEST(Arena, LiveObjectFindsEachLiveObjectAndNoFreedOne) {
  auto a = Arena::create(4 << 20);
  EXPECT_FALSE(a->live_object(7));
  void* kept = a->kmalloc(256, 8);
  void* freed = a->kmalloc(256, 8);
  ASSERT_TRUE(a->kfree(freed));
  for (uint64_t seed : {0ull, 1ull, 12345ull, ~0ull}) {
    auto obj = a->live_object(seed);
    ASSERT_TRUE(obj);
    EXPECT_EQ(obj->first, kept);
    EXPECT_EQ(obj->second, 256u);
  }
}
