#include "ipc/channel.h"

#include <cstring>

namespace side::ipc {
namespace {

size_t align64(size_t v) {
  return (v + 63) & ~size_t{63};
}

// Calls f(ring geometry, offset) for every ring in layout order; returns the total size.
template <class F>
size_t layout(F&& f) {
  size_t off = align64(sizeof(ChannelHeader));
  auto place = [&](const RingGeometry& g, int which, unsigned index) {
    f(g, off, which, index);
    off = align64(off + Ring::bytes_needed(g.slots, g.slot_size));
  };
  place(kControlRing, 0, 0);
  place(kEventRing, 1, 0);
  for (unsigned c = 0; c < kChannelVcpus; ++c) place(kDeviceRing, 2, c);
  for (unsigned c = 0; c < kChannelVcpus; ++c) place(kReplyRing, 3, c);
  place(kTxRing, 4, 0);
  place(kRxRing, 5, 0);
  return (off + 4095) & ~size_t{4095};
}

}  // namespace

size_t Channel::size_needed() {
  return layout([](const RingGeometry&, size_t, int, unsigned) {});
}

Result<Channel> Channel::attach(void* shared, size_t size, bool create) {
  if (size < size_needed()) return make_error("channel smaller than its layout");
  Channel c;
  c.h_ = static_cast<ChannelHeader*>(shared);
  if (create) {
    std::memset(shared, 0, size_needed());
    c.h_->magic = SIDE_IPC_MAGIC;
    c.h_->version = SIDE_IPC_VERSION;
    c.h_->total_size = size_needed();
  } else if (c.h_->magic != SIDE_IPC_MAGIC || c.h_->version != SIDE_IPC_VERSION || c.h_->total_size != size_needed()) {
    return make_error("channel header does not match this build's protocol version");
  }
  auto* base = static_cast<uint8_t*>(shared);
  layout([&](const RingGeometry& g, size_t off, int which, unsigned index) {
    Ring r = g.make(base + off);
    if (create) r.initialize();
    switch (which) {
      case 0:
        c.control_ = r;
        break;
      case 1:
        c.events_ = r;
        break;
      case 2:
        c.device_[index] = r;
        break;
      case 3:
        c.reply_[index] = r;
        break;
      case 4:
        c.tx_ = r;
        break;
      default:
        c.rx_ = r;
        break;
    }
  });
  return c;
}

}  // namespace side::ipc
