// The one way a device model reads or writes a frame at an offset a driver chose (e1000: context descriptor fields,
// legacy CSO/CSS, header lengths): a view of the frame's bytes whose every access is bounds-checked.
//
// An access that does not fit the frame does nothing (a read gives 0) and marks the view failed; the caller checks
// ok() once, after all its accesses, and drops the frame (counted). A hostile offset therefore cannot reach memory
// outside the frame however the offsets and the frame length came to disagree, and the code that edits a frame
// reads as plainly as with raw pointers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

namespace side::net {

template <class Byte>
class BasicFrameView {
 public:
  explicit BasicFrameView(std::span<Byte> bytes) : b_(bytes) {}

  size_t size() const { return b_.size(); }
  // False once any access was out of bounds.
  bool ok() const { return ok_; }
  // Fails the view without an access: the caller found the driver's offsets inconsistent with each other.
  void reject() { ok_ = false; }
  // [off, off + len) lies inside the frame (no overflow in the sum).
  bool fits(size_t off, size_t len) const { return off <= b_.size() && len <= b_.size() - off; }

  uint8_t u8(size_t off) const { return check(off, 1) ? b_[off] : 0; }
  uint16_t be16(size_t off) const { return check(off, 2) ? static_cast<uint16_t>((b_[off] << 8) | b_[off + 1]) : 0; }
  uint32_t be32(size_t off) const {
    if (!check(off, 4)) return 0;
    return (uint32_t{b_[off]} << 24) | (uint32_t{b_[off + 1]} << 16) | (uint32_t{b_[off + 2]} << 8) | b_[off + 3];
  }
  // The bytes [off, off + len), or an empty span (and the view failed) if they are not all inside the frame.
  std::span<const uint8_t> bytes(size_t off, size_t len) const {
    if (!check(off, len)) return {};
    return std::span<const uint8_t>(b_.data() + off, len);
  }

  void put_u8(size_t off, uint8_t v) requires(!std::is_const_v<Byte>) {
    if (check(off, 1)) b_[off] = v;
  }
  void put_be16(size_t off, uint16_t v) requires(!std::is_const_v<Byte>) {
    if (!check(off, 2)) return;
    b_[off] = static_cast<uint8_t>(v >> 8);
    b_[off + 1] = static_cast<uint8_t>(v);
  }
  void put_be32(size_t off, uint32_t v) requires(!std::is_const_v<Byte>) {
    if (!check(off, 4)) return;
    for (size_t i = 0; i < 4; ++i) b_[off + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  }

 private:
  bool check(size_t off, size_t len) const {
    if (fits(off, len)) return true;
    ok_ = false;
    return false;
  }

  std::span<Byte> b_;
  // Reads are const but still record a failed access: the frame they came from is not what the offsets say.
  mutable bool ok_ = true;
};

using FrameView = BasicFrameView<uint8_t>;
using ConstFrameView = BasicFrameView<const uint8_t>;

// Inserts the Internet checksum (RFC 1071) of frame[css, end) at frame[sloc], `end` being cse + 1 when cse != 0
// and inside the frame, else the frame's end (8254x SDM section 3.3.6: CSE 0 means "to the end of the packet").
// Out-of-frame offsets fail the view and write nothing.
void put_internet_checksum(FrameView& frame, size_t sloc, size_t css, size_t cse);

}  // namespace side::net
