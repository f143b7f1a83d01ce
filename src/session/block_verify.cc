#include "session/block_verify.h"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

namespace side::session {
namespace {

using clock = std::chrono::steady_clock;

struct Extent {
  uint64_t offset;
  uint32_t length;
};

uint64_t next_random(uint64_t& state) {  // xorshift64*: reproducible from the seed
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ull;
}

// One extent per stretch of the disk, of a length between one block and the longest write, at a block-aligned
// place inside its stretch; lengths vary over powers of two and odd block counts alike.
std::vector<Extent> choose_extents(const block::Geometry& g, const BlockVerifyConfig& c) {
  const uint32_t lbs = g.logical_block_size;
  const uint64_t stretch = g.capacity / c.extents / lbs * lbs;
  const uint64_t longest = std::min<uint64_t>({c.max_bytes, g.max_transfer, stretch}) / lbs;
  std::vector<Extent> out;
  uint64_t state = c.seed * 0x9e3779b97f4a7c15ull | 1;
  for (unsigned i = 0; i < c.extents && longest > 0; ++i) {
    const uint64_t r = next_random(state);
    uint64_t blocks = (r & 1) ? (uint64_t{1} << (r >> 1) % 12) : 1 + (r >> 1) % longest;
    blocks = std::min(blocks, longest);
    const uint64_t slack = stretch / lbs - blocks;
    const uint64_t at = i * stretch + (slack ? next_random(state) % (slack + 1) : 0) * lbs;
    out.push_back({at, static_cast<uint32_t>(blocks * lbs)});
  }
  return out;
}

// Submits one request and waits for it (bounded); the buffer is shared with the completion, so a request given up
// on cannot write into freed memory.
int submit_and_wait(block::BlockDevice& disk, block::Op op, uint64_t offset, std::shared_ptr<std::vector<uint8_t>> buf,
                    std::chrono::milliseconds timeout) {
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int status = 0;
  };
  auto w = std::make_shared<Wait>();
  block::Request r{op, 0, offset, buf ? static_cast<uint32_t>(buf->size()) : 0u, buf ? buf->data() : nullptr};
  int err = disk.submit(
      r,
      [w, buf](int status) {
        (void)buf;  // kept alive until the device is done with it
        std::lock_guard lock(w->mu);
        w->done = true;
        w->status = status;
        w->cv.notify_all();
      },
      timeout);
  if (err) return err;
  std::unique_lock lock(w->mu);
  if (!w->cv.wait_for(lock, timeout, [&] { return w->done; })) return ETIMEDOUT;
  return w->status;
}

std::string failed(const char* what, const Extent& e, int err) {
  return std::string(what) + " of " + std::to_string(e.length) + " bytes at " + std::to_string(e.offset) + ": " +
         std::strerror(err);
}

// Compares a read-back extent block by block.
void count_blocks(const std::vector<uint8_t>& data, const Extent& e, uint32_t lbs, uint64_t seed,
                  BlockVerifyResult& out) {
  for (uint32_t b = 0; b < e.length; b += lbs) {
    bool same = true;
    for (uint32_t i = 0; i < lbs && same; ++i) same = data[b + i] == verify_pattern(e.offset + b + i, seed);
    ++(same ? out.blocks_verified : out.blocks_mismatched);
  }
}

}  // namespace

uint8_t verify_pattern(uint64_t at, uint64_t seed) {
  const uint64_t x = (at ^ (seed << 40)) * 0x9e3779b97f4a7c15ull;
  return static_cast<uint8_t>(x >> 56 ^ at >> 9);
}

BlockVerifyResult run_block_verify(block::BlockDevice& disk, const BlockVerifyConfig& c) {
  BlockVerifyResult out;
  const block::Geometry& g = disk.geometry();
  const auto extents = choose_extents(g, c);
  const uint64_t total = 2 * extents.size();
  auto t = clock::now();
  for (const Extent& e : extents) {
    auto buf = std::make_shared<std::vector<uint8_t>>(e.length);
    for (uint32_t i = 0; i < e.length; ++i) (*buf)[i] = verify_pattern(e.offset + i, c.seed);
    if (int err = submit_and_wait(disk, block::Op::kWrite, e.offset, buf, c.request_timeout)) {
      out.error = failed("write", e, err);
      return out;
    }
    ++out.requests;
    out.bytes_written += e.length;
    out.blocks_written += e.length / g.logical_block_size;
    if (c.on_progress) c.on_progress(out.requests, total);
  }
  if (g.flush) {
    if (int err = submit_and_wait(disk, block::Op::kFlush, 0, nullptr, c.request_timeout)) {
      out.error = std::string("flush: ") + std::strerror(err);
      return out;
    }
  }
  out.write_s = std::chrono::duration<double>(clock::now() - t).count();
  t = clock::now();
  for (const Extent& e : extents) {
    auto buf = std::make_shared<std::vector<uint8_t>>(e.length);
    if (int err = submit_and_wait(disk, block::Op::kRead, e.offset, buf, c.request_timeout)) {
      out.error = failed("read", e, err);
      return out;
    }
    ++out.requests;
    out.bytes_read += e.length;
    count_blocks(*buf, e, g.logical_block_size, c.seed, out);
    if (c.on_progress) c.on_progress(out.requests, total);
  }
  out.read_s = std::chrono::duration<double>(clock::now() - t).count();
  return out;
}

}  // namespace side::session
