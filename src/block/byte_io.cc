#include "block/byte_io.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "block/split_io.h"

namespace side::block {

namespace {

struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  int status = 0;
};

std::shared_ptr<uint8_t[]> buffer(size_t n) {
  return std::make_shared_for_overwrite<uint8_t[]>(n);
}

}  // namespace

// Submits and waits, bounded. The completion owns `keep_alive` (the request's buffer) and the waiter, so giving
// up early frees nothing the device still uses.
int ByteIo::run(Request r, std::shared_ptr<uint8_t[]> keep_alive) {
  auto w = std::make_shared<Waiter>();
  auto done = [w, keep_alive = std::move(keep_alive)](int status) {
    std::lock_guard lock(w->mu);
    w->done = true;
    w->status = status;
    w->cv.notify_all();
  };
  if (int err = submit_split(dev_, r, std::move(done), timeout_)) return err == EAGAIN ? EIO : err;
  std::unique_lock lock(w->mu);
  if (!w->cv.wait_for(lock, timeout_, [&] { return w->done; })) return EIO;
  return w->status;
}

int ByteIo::read_chunk(uint64_t offset, size_t length, uint8_t* out) {
  const uint32_t lbs = dev_.geometry().logical_block_size;
  const uint64_t a0 = offset / lbs * lbs;
  const uint64_t a1 = (offset + length + lbs - 1) / lbs * lbs;
  auto buf = buffer(a1 - a0);
  Request r{Op::kRead, 0, a0, static_cast<uint32_t>(a1 - a0), buf.get()};
  if (int err = run(r, buf)) return err;
  std::memcpy(out, buf.get() + (offset - a0), length);
  return 0;
}

ssize_t ByteIo::read(uint64_t offset, size_t length, uint8_t* out) {
  if (offset >= size()) return 0;
  length = std::min<uint64_t>(length, size() - offset);
  for (size_t done = 0; done < length;) {
    const size_t n = std::min<size_t>(kChunk, length - done);
    if (int err = read_chunk(offset + done, n, out + done)) return -err;
    done += n;
  }
  return static_cast<ssize_t>(length);
}

// One write of at most kChunk bytes: straight through when aligned, else with its edge blocks read first.
int ByteIo::write_chunk(uint64_t offset, size_t length, const uint8_t* in) {
  const uint32_t lbs = dev_.geometry().logical_block_size;
  const uint64_t a0 = offset / lbs * lbs;
  const uint64_t a1 = (offset + length + lbs - 1) / lbs * lbs;
  auto buf = buffer(a1 - a0);
  Request w{Op::kWrite, 0, a0, static_cast<uint32_t>(a1 - a0), buf.get()};
  if (a0 == offset && a1 == offset + length) {
    std::shared_lock lock(rmw_);
    std::memcpy(buf.get(), in, length);
    return run(w, buf);
  }
  std::unique_lock lock(rmw_);
  if (a0 != offset || a1 - a0 == lbs) {
    if (int err = run(Request{Op::kRead, 0, a0, lbs, buf.get()}, buf)) return err;
  }
  if (a1 != offset + length && a1 - a0 > lbs) {
    if (int err = run(Request{Op::kRead, 0, a1 - lbs, lbs, buf.get() + (a1 - lbs - a0)}, buf)) return err;
  }
  std::memcpy(buf.get() + (offset - a0), in, length);
  return run(w, buf);
}

ssize_t ByteIo::write(uint64_t offset, size_t length, const uint8_t* in) {
  if (length == 0) return 0;
  if (offset >= size()) return -ENOSPC;
  length = std::min<uint64_t>(length, size() - offset);
  for (size_t done = 0; done < length;) {
    const size_t n = std::min<size_t>(kChunk, length - done);
    if (int err = write_chunk(offset + done, n, in + done)) return -err;
    done += n;
  }
  return static_cast<ssize_t>(length);
}

// Whole blocks: the device's write-zeroes where it has one, else zeroes written out.
int ByteIo::write_zero_blocks(uint64_t offset, uint64_t length, bool unmap) {
  const Geometry& g = dev_.geometry();
  const uint32_t step = g.write_zeroes ? g.max_discard : kChunk;
  std::shared_ptr<uint8_t[]> zeroes;
  if (!g.write_zeroes) {
    zeroes = buffer(kChunk);
    std::memset(zeroes.get(), 0, kChunk);
  }
  std::shared_lock lock(rmw_);
  for (uint64_t done = 0; done < length;) {  // bounded: length is within the capacity
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(step, length - done));
    Request r{g.write_zeroes ? Op::kWriteZeroes : Op::kWrite, 0, offset + done, n, zeroes.get()};
    if (g.write_zeroes && !unmap) r.flags = kNoUnmap;
    if (int err = run(r, zeroes)) return err;
    done += n;
  }
  return 0;
}

int ByteIo::zero(uint64_t offset, uint64_t length, bool unmap) {
  if (offset >= size() || length == 0) return 0;
  length = std::min(length, size() - offset);
  const uint32_t lbs = dev_.geometry().logical_block_size;
  const uint64_t m0 = (offset + lbs - 1) / lbs * lbs, m1 = (offset + length) / lbs * lbs;
  static const uint8_t kZeroBlock[2 * 65536] = {};  // longer than any partial range: under 2 blocks
  if (m0 >= m1) {                                   // within one block, or across one boundary without a whole block
    const ssize_t n = write(offset, length, kZeroBlock);
    return n < 0 ? static_cast<int>(n) : 0;
  }
  if (m0 > offset) {
    if (ssize_t n = write(offset, m0 - offset, kZeroBlock); n < 0) return static_cast<int>(n);
  }
  if (m1 < offset + length) {
    if (ssize_t n = write(m1, offset + length - m1, kZeroBlock); n < 0) return static_cast<int>(n);
  }
  return -write_zero_blocks(m0, m1 - m0, unmap);
}

int ByteIo::flush() {
  // A device without a volatile cache has made every completed write durable already.
  if (!dev_.geometry().flush) return 0;
  return -run(Request{Op::kFlush, 0, 0, 0, nullptr}, nullptr);
}

}  // namespace side::block
