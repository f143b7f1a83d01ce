#include "emulation/decode_cache.h"

#include <gtest/gtest.h>

#include <vector>

namespace side::emulation {
namespace {

TEST(DecodeCache, HitsOnSameSiteAndBytes) {
  DecodeCache cache;
  const std::vector<uint8_t> code = {0x8b, 0x03, 0xcc, 0xcc};  // movl (%rbx),%eax
  auto a = cache.decode(code, 0x1000);
  ASSERT_TRUE(a.ok());
  auto b = cache.decode(code, 0x1000);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
  // Different trailing bytes after the instruction still hit.
  const std::vector<uint8_t> other_tail = {0x8b, 0x03, 0x90};
  ASSERT_TRUE(cache.decode(other_tail, 0x1000).ok());
  EXPECT_EQ(cache.hits(), 2u);
}

TEST(DecodeCache, ChangedCodeAtTheSameAddressIsDecodedAgain) {
  DecodeCache cache;
  const std::vector<uint8_t> load = {0x8b, 0x03};   // movl (%rbx),%eax
  const std::vector<uint8_t> store = {0x89, 0x03};  // movl %eax,(%rbx)
  auto a = cache.decode(load, 0x1000);
  auto b = cache.decode(store, 0x1000);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->kind, Kind::kLoad);
  EXPECT_EQ(b->kind, Kind::kStore);
  EXPECT_EQ(cache.misses(), 2u);
  // A longer instruction whose prefix equals the cached one is not confused with it.
  const std::vector<uint8_t> longer = {0x8b, 0x43, 0x10};  // movl 0x10(%rbx),%eax
  auto c = cache.decode(longer, 0x1000);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->memory.displacement, 0x10);
  // Code cut shorter than the cached instruction is a miss, and decoding then fails as truncated.
  const std::vector<uint8_t> cut = {0x8b};
  EXPECT_FALSE(cache.decode(cut, 0x1000).ok());
}

TEST(DecodeCache, DifferentSitesAndInvalidation) {
  DecodeCache cache;
  const std::vector<uint8_t> load = {0x8b, 0x03};
  for (uint64_t rip = 0x1000; rip < 0x1000 + 4 * DecodeCache::kEntries; rip += 4) {
    auto a = cache.decode(load, rip);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->rip, rip);  // never an entry for another site
  }
  ASSERT_TRUE(cache.decode(load, 0x2000).ok());
  const uint64_t misses = cache.misses();
  ASSERT_TRUE(cache.decode(load, 0x2000).ok());
  EXPECT_EQ(cache.misses(), misses);
  cache.invalidate(0x2000);
  ASSERT_TRUE(cache.decode(load, 0x2000).ok());
  EXPECT_EQ(cache.misses(), misses + 1);
  cache.clear();
  ASSERT_TRUE(cache.decode(load, 0x2000).ok());
  EXPECT_EQ(cache.misses(), misses + 2);
}

TEST(DecodeCache, FailuresAreNotCached) {
  DecodeCache cache;
  const std::vector<uint8_t> inc = {0xff, 0x03};  // incl (%rbx)
  EXPECT_FALSE(cache.decode(inc, 0x1000).ok());
  EXPECT_FALSE(cache.decode(inc, 0x1000).ok());
  EXPECT_EQ(cache.hits(), 0u);
}

}  // namespace
}  // namespace side::emulation
