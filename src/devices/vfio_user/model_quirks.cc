#include "devices/vfio_user/model_quirks.h"

namespace side::vfio_user {
namespace {

// RTL8139 registers, the same in its I/O (BAR 0) and memory (BAR 1) windows.
constexpr uint64_t kRxBufPtr = 0x38;  // CAPR: where the driver has read the receive ring up to (minus 16)
constexpr uint64_t kIntrMask = 0x3c;
constexpr uint64_t kRxOverflow = 0x10;

}  // namespace

std::optional<RegisterRewrite> rtl8139_flush_on_unmask(int bar, uint64_t offset, unsigned width, uint64_t value) {
  if ((bar != 0 && bar != 1) || offset != kIntrMask || width == 0 || !(value & kRxOverflow)) return std::nullopt;
  return RegisterRewrite{kRxBufPtr, 2};
}

namespace {

// Whether [offset, offset + width) covers byte `at`.
bool covers(uint64_t offset, unsigned width, uint64_t at) {
  return offset <= at && at - offset < width;
}

constexpr uint64_t kVmxnet3Command = 0x20;

}  // namespace

bool vmxnet3_command_waits(int bar, uint64_t offset, unsigned width) {
  return bar == 1 && covers(offset, width, kVmxnet3Command);
}

}  // namespace side::vfio_user
