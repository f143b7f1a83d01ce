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

// What one pass's completions share with it; owned with them, so a pass that gave up waiting leaves nothing dangling.
struct Pass {
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;
  uint64_t completed = 0;
  int first_error = 0;
  size_t failed_extent = 0;
};

// Every extent as one request of `op`, as many in flight as the device takes (submit() waits for a slot): the
// driver sees a queue, not one request at a time. 0, or the first error and which extent had it.
int run_pass(block::BlockDevice& disk, block::Op op, const std::vector<Extent>& extents,
             const std::vector<std::shared_ptr<std::vector<uint8_t>>>& bufs, const BlockVerifyConfig& c,
             uint64_t progress_base, uint64_t total, size_t* failed_extent) {
  auto pass = std::make_shared<Pass>();
  for (size_t i = 0; i < extents.size(); ++i) {
    auto buf = bufs[i];
    block::Request r{op, 0, extents[i].offset, extents[i].length, buf->data()};
    {
      std::lock_guard lock(pass->mu);
      ++pass->outstanding;
    }
    auto progress = c.on_progress;
    int err = disk.submit(
        r,
        [pass, buf, i, progress, progress_base, total](int status) {
          uint64_t done;
          {
            std::lock_guard lock(pass->mu);
            if (status && !pass->first_error) {
              pass->first_error = status;
              pass->failed_extent = i;
            }
            done = progress_base + ++pass->completed;
            --pass->outstanding;
            pass->cv.notify_all();
          }
          if (progress) progress(done, total);
        },
        c.request_timeout);
    std::lock_guard lock(pass->mu);
    if (err) {
      --pass->outstanding;
      if (!pass->first_error) {
        pass->first_error = err;
        pass->failed_extent = i;
      }
    }
    if (pass->first_error) break;
  }
  std::unique_lock lock(pass->mu);
  if (!pass->cv.wait_for(lock, c.request_timeout, [&] { return pass->outstanding == 0; })) return ETIMEDOUT;
  *failed_extent = pass->failed_extent;
  return pass->first_error;
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
  std::vector<std::shared_ptr<std::vector<uint8_t>>> bufs;
  for (const Extent& e : extents) {
    bufs.push_back(std::make_shared<std::vector<uint8_t>>(e.length));
    for (uint32_t i = 0; i < e.length; ++i) (*bufs.back())[i] = verify_pattern(e.offset + i, c.seed);
  }
  size_t bad = 0;
  auto t = clock::now();
  if (int err = run_pass(disk, block::Op::kWrite, extents, bufs, c, 0, total, &bad)) {
    out.error = failed("write", extents[bad], err);
    return out;
  }
  if (g.flush) {
    if (int err = submit_and_wait(disk, block::Op::kFlush, 0, nullptr, c.request_timeout)) {
      out.error = std::string("flush: ") + std::strerror(err);
      return out;
    }
  }
  out.write_s = std::chrono::duration<double>(clock::now() - t).count();
  for (const Extent& e : extents) {
    out.bytes_written += e.length;
    out.blocks_written += e.length / g.logical_block_size;
  }
  // Fresh buffers: a read that delivered nothing must not find the pattern left by the write.
  for (auto& b : bufs) b = std::make_shared<std::vector<uint8_t>>(b->size());
  t = clock::now();
  if (int err = run_pass(disk, block::Op::kRead, extents, bufs, c, extents.size(), total, &bad)) {
    out.error = failed("read", extents[bad], err);
    return out;
  }
  out.read_s = std::chrono::duration<double>(clock::now() - t).count();
  out.requests = total;
  for (size_t i = 0; i < extents.size(); ++i) {
    out.bytes_read += extents[i].length;
    count_blocks(*bufs[i], extents[i], g.logical_block_size, c.seed, out);
  }
  return out;
}

}  // namespace side::session
