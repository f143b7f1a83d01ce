#include "domain/io_windows.h"

#include <gtest/gtest.h>

namespace side::domain {
namespace {

TEST(IoWindows, MapsMemoryBarsAndRoutesAccesses) {
  IoWindows w;
  ASSERT_TRUE(w.reserve());
  ASSERT_TRUE(w.add_bar(0, 0, 0xfebc0000, 0x20000, false));
  ASSERT_TRUE(w.add_bar(0, 1, 0xc000, 0x40, true));
  auto addr = w.map(0xfebc0000, 0x20000);
  ASSERT_TRUE(addr);
  EXPECT_TRUE(w.in_region(*addr));
  auto t = w.memory_target(*addr + 0x3818, 4);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->device, 0u);
  EXPECT_EQ(t->bar, 0);
  EXPECT_EQ(t->offset, 0x3818u);
  // The last bytes of the BAR, and not one beyond.
  EXPECT_TRUE(w.memory_target(*addr + 0x1fffc, 4));
  EXPECT_FALSE(w.memory_target(*addr + 0x1fffe, 4));
  auto p = w.port_target(0xc004, 4);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->bar, 1);
  EXPECT_EQ(p->offset, 4u);
  EXPECT_FALSE(w.port_target(0xc03e, 4));
}

TEST(IoWindows, PartialMappingsKeepTheirOffset) {
  IoWindows w;
  ASSERT_TRUE(w.reserve());
  ASSERT_TRUE(w.add_bar(2, 0, 0xfe000000, 0x20000, false));
  auto addr = w.map(0xfe000104, 0x100);
  ASSERT_TRUE(addr);
  EXPECT_EQ(*addr & 0xfff, 0x104u);
  auto t = w.memory_target(*addr, 4);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->device, 2u);
  EXPECT_EQ(t->offset, 0x104u);
}

TEST(IoWindows, RefusesWhatNoBarCoversAndForgetsUnmappedWindows) {
  IoWindows w;
  ASSERT_TRUE(w.reserve());
  ASSERT_TRUE(w.add_bar(0, 0, 0xfebc0000, 0x20000, false));
  EXPECT_FALSE(w.map(0xfebd0000, 0x20000));                  // runs past the BAR
  EXPECT_FALSE(w.map(0x1000, 0x100));                        // no BAR there
  EXPECT_FALSE(w.add_bar(1, 0, 0xfebc8000, 0x1000, false));  // overlaps
  auto addr = w.map(0xfebc0000, 0x1000);
  ASSERT_TRUE(addr);
  EXPECT_TRUE(w.unmap(*addr));
  EXPECT_FALSE(w.unmap(*addr));
  EXPECT_FALSE(w.memory_target(*addr, 4));
  // A new mapping never reuses the old window's address.
  auto again = w.map(0xfebc0000, 0x1000);
  ASSERT_TRUE(again);
  EXPECT_NE(*again, *addr);
  w.remove_device(0);
  EXPECT_FALSE(w.memory_target(*again, 4));
}

}  // namespace
}  // namespace side::domain
