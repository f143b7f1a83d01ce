// The bounds-checked frame accessor every driver-chosen offset goes through.
#include "devices/net/frame_view.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <vector>

#include "devices/net/net_util.h"

namespace side::net {
namespace {

TEST(FrameView, AccessesInsideTheFrameWork) {
  std::vector<uint8_t> b(8, 0);
  FrameView v(b);
  v.put_be16(0, 0x1234);
  v.put_be32(4, 0xa1b2c3d4);
  v.put_u8(2, 0x99);
  EXPECT_EQ(v.be16(0), 0x1234);
  EXPECT_EQ(v.be32(4), 0xa1b2c3d4u);
  EXPECT_EQ(v.u8(2), 0x99);
  EXPECT_EQ(v.bytes(6, 2).size(), 2u);
  EXPECT_TRUE(v.fits(8, 0));
  EXPECT_TRUE(v.ok());
}

TEST(FrameView, AccessesOutsideWriteNothingReadZeroAndFailTheView) {
  std::vector<uint8_t> b(8, 0x11);
  std::vector<uint8_t> before = b;
  FrameView v(b);
  v.put_be16(7, 0xffff);  // straddles the end
  EXPECT_FALSE(v.ok());
  FrameView w(b);
  w.put_be32(std::numeric_limits<size_t>::max() - 1, 0);  // off + len overflows
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(b, before);
  ConstFrameView r(b);
  EXPECT_EQ(r.be32(5), 0u);
  EXPECT_FALSE(r.ok());
  ConstFrameView s(b);
  EXPECT_TRUE(s.bytes(9, 0).empty());
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.fits(std::numeric_limits<size_t>::max(), 2));
}

TEST(FrameView, InternetChecksumHonoursCseAndRefusesBadOffsets) {
  std::vector<uint8_t> b = {0x45, 0x00, 0x00, 0x1c, 0, 0, 0, 0, 0x12, 0x34};
  FrameView v(b);
  put_internet_checksum(v, 4, 0, 7);  // cse = 7: covers bytes 0..7 only
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(csum_finish(csum_add(std::span<const uint8_t>(b.data(), 8))), 0);
  std::vector<uint8_t> c = b;
  FrameView start_past_end(c);
  put_internet_checksum(start_past_end, 0, 10, 0);
  EXPECT_FALSE(start_past_end.ok());
  FrameView field_past_end(c);
  put_internet_checksum(field_past_end, 9, 0, 0);
  EXPECT_FALSE(field_past_end.ok());
  EXPECT_EQ(c, b);
}

}  // namespace
}  // namespace side::net
