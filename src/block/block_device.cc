#include "block/block_device.h"

#include <cerrno>
#include <memory>

namespace side::block {

const char* op_name(Op op) {
  switch (op) {
    case Op::kRead:
      return "read";
    case Op::kWrite:
      return "write";
    case Op::kFlush:
      return "flush";
    case Op::kDiscard:
      return "discard";
    case Op::kWriteZeroes:
      return "write-zeroes";
  }
  return "unknown";
}

static bool power_of_two(uint64_t v) {
  return v && !(v & (v - 1));
}

bool geometry_valid(const Geometry& g) {
  const uint32_t lbs = g.logical_block_size;
  if (!power_of_two(lbs) || lbs < 512 || lbs > 65536) return false;
  if (g.capacity == 0 || g.capacity % lbs) return false;
  if (g.max_transfer < lbs || g.max_transfer % lbs) return false;
  if ((g.discard || g.write_zeroes) && (g.max_discard < lbs || g.max_discard % lbs)) return false;
  return g.queue_depth >= 1 && g.queue_depth <= 4096;
}

// Which flags each operation may carry.
static uint32_t allowed_flags(const Geometry& g, Op op) {
  const uint32_t fua = g.fua ? kFua : 0;
  switch (op) {
    case Op::kWrite:
    case Op::kDiscard:
      return fua;
    case Op::kWriteZeroes:
      return fua | kNoUnmap;
    default:
      return 0;
  }
}

// Whether the geometry offers the operation at all.
static int supported(const Geometry& g, Op op) {
  switch (op) {
    case Op::kRead:
    case Op::kWrite:
      return 0;
    case Op::kFlush:
      return g.flush ? 0 : EOPNOTSUPP;
    case Op::kDiscard:
      return g.discard ? 0 : EOPNOTSUPP;
    case Op::kWriteZeroes:
      return g.write_zeroes ? 0 : EOPNOTSUPP;
  }
  return EINVAL;
}

int check_request(const Geometry& g, const Request& r) {
  if (int err = supported(g, r.op)) return err;
  if (r.flags & ~allowed_flags(g, r.op)) return EINVAL;
  if (g.read_only && r.op != Op::kRead && r.op != Op::kFlush) return EROFS;
  if (r.op == Op::kFlush) return r.offset || r.length ? EINVAL : 0;
  const bool data_op = r.op == Op::kRead || r.op == Op::kWrite;
  if (r.length == 0 || r.length > (data_op ? g.max_transfer : g.max_discard)) return EINVAL;
  if (r.offset % g.logical_block_size || r.length % g.logical_block_size) return EINVAL;
  if (data_op != (r.data != nullptr)) return EINVAL;
  if (r.offset > g.capacity || r.length > g.capacity - r.offset) return ENOSPC;
  return 0;
}

int sanitize_status(int status) {
  if (status == 0) return 0;
  return status > 0 && status < 4096 ? status : EIO;
}

int BlockDevice::submit(const Request& r, Completion done, std::chrono::milliseconds slot_wait) {
  if (int err = check_request(geometry_, r)) return err;
  {
    std::unique_lock lock(mu_);
    const bool got =
        slot_freed_.wait_for(lock, slot_wait, [&] { return stopping_ || in_flight_ < geometry_.queue_depth; });
    if (stopping_) return ESHUTDOWN;
    if (!got) return EAGAIN;
    ++in_flight_;
  }
  // The wrapper keeps the contract whatever the implementation does: one call, a sane status, and the slot
  // released only after the exporter's completion returned (so drain() covers the completions themselves).
  auto once = std::make_shared<std::once_flag>();
  start(r, [this, once, done = std::move(done)](int status) {
    std::call_once(*once, [&] {
      done(sanitize_status(status));
      finish();
    });
  });
  return 0;
}

void BlockDevice::finish() {
  std::lock_guard lock(mu_);
  --in_flight_;
  slot_freed_.notify_all();
}

size_t BlockDevice::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  stopping_ = true;
  slot_freed_.notify_all();
  slot_freed_.wait_for(lock, timeout, [&] { return in_flight_ == 0; });
  return in_flight_;
}

size_t BlockDevice::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

}  // namespace side::block
