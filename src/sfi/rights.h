// The rights bitmap of `--isolation sfi`: one bit per 8-byte granule of the window (layout.h), set while the
// driver may write the granule. The kernel-API layer's allocation paths grant and revoke as they hand memory out
// and take it back (through the host services), so a write into a freed object is caught like any other. The
// bitmap itself lies outside the window; it is reserved once per process and its pages appear as they are touched.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace side::sfi {

class Rights {
 public:
  // The process's bitmap, reserved on first use.
  static Result<Rights*> get();

  void grant(uint64_t addr, uint64_t len) { set(addr, len, true); }
  void revoke(uint64_t addr, uint64_t len) { set(addr, len, false); }
  // Whether every granule of [addr, addr + len) is writable (false outside the window).
  bool allowed(uint64_t addr, uint64_t len) const;
  // Everything revoked (a domain torn down); the bitmap's pages are given back.
  void clear();
  uint64_t bitmap_address() const { return reinterpret_cast<uint64_t>(bits_); }

 private:
  Rights() = default;
  void set(uint64_t addr, uint64_t len, bool on);
  uint8_t* bits_ = nullptr;
};

}  // namespace side::sfi
