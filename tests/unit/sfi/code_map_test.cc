#include "sfi/code_map.h"

#include <gtest/gtest.h>

namespace side::sfi {
namespace {

TEST(SfiCodeMap, BoundariesBothWays) {
  CodeMap m;
  m.add(0, 0);
  m.add(3, 40);  // the instruction at 0 grew a check
  m.add(5, 42);
  m.add(9, 46);  // end of the section
  EXPECT_EQ(m.to_translated(3), 40u);
  EXPECT_EQ(m.to_translated(9), 46u);
  EXPECT_FALSE(m.to_translated(4));  // inside an instruction
  EXPECT_FALSE(m.to_translated(10));
  EXPECT_EQ(m.to_original(0), 0u);
  EXPECT_EQ(m.to_original(39), 0u);  // inside the check: the instruction it guards
  EXPECT_EQ(m.to_original(41), 3u);
  EXPECT_EQ(m.to_original(45), 5u);
  EXPECT_FALSE(m.to_original(46));  // the literal pool
}

}  // namespace
}  // namespace side::sfi
