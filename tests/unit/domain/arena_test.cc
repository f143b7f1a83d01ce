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
