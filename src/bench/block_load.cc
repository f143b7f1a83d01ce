#include "bench/block_load.h"

#include <time.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

namespace side::bench {
namespace {

using clock = std::chrono::steady_clock;
using Buffer = std::shared_ptr<std::vector<uint8_t>>;

constexpr uint32_t kBlock = 512;

double thread_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

uint64_t next_random(uint64_t& state) {  // xorshift64*: reproducible from the seed
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ull;
}

void fill(uint8_t* p, uint64_t at, uint32_t length, uint64_t seed) {
  for (uint32_t i = 0; i < length; i += 8) {
    const uint64_t w = block_pattern_word(at + i, seed);
    std::memcpy(p + i, &w, 8);
  }
}

// 512-byte blocks of `p` (read from disk offset `at`) that do not hold the pattern.
uint64_t mismatched_blocks(const uint8_t* p, uint64_t at, uint32_t length, uint64_t seed) {
  uint64_t bad = 0;
  for (uint32_t b = 0; b < length; b += kBlock) {
    for (uint32_t i = b; i < b + kBlock; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (w != block_pattern_word(at + i, seed)) {
        ++bad;
        break;
      }
    }
  }
  return bad;
}

// Completions, handed from the device's threads to the generator. Shared with every completion, so that one
// coming after the generator gave up touches live memory.
struct Completions {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<uint32_t, int>> done;  // slot, status

  void push(uint32_t slot, int status) {
    {
      std::lock_guard lock(mu);
      done.emplace_back(slot, status);
    }
    cv.notify_one();
  }
  // False when none came before the deadline.
  bool pop(clock::time_point deadline, uint32_t& slot, int& status) {
    std::unique_lock lock(mu);
    if (!cv.wait_until(lock, deadline, [&] { return !done.empty(); })) return false;
    std::tie(slot, status) = done.front();
    done.pop_front();
    return true;
  }
};

class Generator {
 public:
  Generator(block::BlockDevice& disk, const BlockLoadConfig& c)
      : disk_(disk), c_(c), state_(c.seed * 0x9e3779b97f4a7c15ull | 1), offsets_(c.depth) {
    region_ = c.region_bytes ? std::min(c.region_bytes, disk.geometry().capacity) : disk.geometry().capacity;
    for (uint32_t i = 0; i < c.depth; ++i) buffers_.push_back(std::make_shared<std::vector<uint8_t>>(c.request_bytes));
  }
  BlockLoadResult run();

 private:
  std::string issue(uint32_t slot);
  void window_transitions(clock::time_point now);
  void account(uint32_t slot, int status);

  block::BlockDevice& disk_;
  const BlockLoadConfig& c_;
  uint64_t state_, region_ = 0;
  std::vector<Buffer> buffers_;
  std::vector<uint64_t> offsets_;
  std::shared_ptr<Completions> completions_ = std::make_shared<Completions>();
  BlockLoadResult r_;
  clock::time_point start_, t0_;
  double cpu0_ = 0;
  bool started_ = false, ended_ = false;
};

std::string Generator::issue(uint32_t slot) {
  const uint64_t places = region_ / c_.request_bytes;
  const uint64_t at = (next_random(state_) % places) * c_.request_bytes;
  offsets_[slot] = at;
  Buffer buf = buffers_[slot];
  if (c_.op == block::Op::kWrite) fill(buf->data(), at, c_.request_bytes, c_.seed);
  block::Request r{c_.op, 0, at, c_.request_bytes, buf->data()};
  const int err = disk_.submit(
      r, [buf, slot, done = completions_](int status) { done->push(slot, status); }, c_.request_timeout);
  return err ? "a request was refused: " + std::string(std::strerror(err)) : "";
}

void Generator::window_transitions(clock::time_point now) {
  if (!started_ && now - start_ >= std::chrono::duration<double>(c_.warmup_s)) {
    started_ = true;
    if (c_.on_window_start) c_.on_window_start();
    t0_ = clock::now();
    cpu0_ = thread_cpu_s();
  } else if (started_ && !ended_ && now - t0_ >= std::chrono::duration<double>(c_.window_s)) {
    ended_ = true;
    r_.generator_cpu_s = thread_cpu_s() - cpu0_;
    r_.seconds = std::chrono::duration<double>(clock::now() - t0_).count();
    if (c_.on_window_end) c_.on_window_end();
  }
}

// Every read is checked, in the window or not; only the window's requests are counted.
void Generator::account(uint32_t slot, int status) {
  if (status != 0) {
    if (r_.error.empty()) r_.error = "a request failed: " + std::string(std::strerror(status));
    return;
  }
  const bool counted = started_ && !ended_;
  if (c_.op == block::Op::kRead) {
    const uint64_t bad = mismatched_blocks(buffers_[slot]->data(), offsets_[slot], c_.request_bytes, c_.seed);
    if (bad && r_.error.empty()) r_.error = "read data does not match what was written";
    r_.blocks_mismatched += bad;
    if (counted) r_.blocks_verified += c_.request_bytes / kBlock - bad;
  }
  if (counted) {
    ++r_.requests;
    r_.bytes += c_.request_bytes;
  }
}

BlockLoadResult Generator::run() {
  start_ = clock::now();
  if (c_.request_bytes == 0 || c_.request_bytes % kBlock || region_ < c_.request_bytes || c_.depth == 0) {
    r_.error = "the request size does not fit the disk";
    return r_;
  }
  uint32_t in_flight = 0;
  for (uint32_t slot = 0; slot < c_.depth && r_.error.empty(); ++slot) {
    r_.error = issue(slot);
    if (r_.error.empty()) ++in_flight;
  }
  while (in_flight > 0) {
    uint32_t slot = 0;
    int status = 0;
    if (!completions_->pop(clock::now() + c_.request_timeout, slot, status)) {
      r_.error = "a request was not completed within " + std::to_string(c_.request_timeout.count()) + " ms";
      break;  // the buffers stay alive with the completions still to come
    }
    --in_flight;
    window_transitions(clock::now());
    account(slot, status);
    if (ended_ || !r_.error.empty()) continue;
    if (auto e = issue(slot); !e.empty()) {
      r_.error = e;
    } else {
      ++in_flight;
    }
  }
  if (r_.error.empty() && !ended_) r_.error = "the window did not close";
  return r_;
}

}  // namespace

uint64_t block_pattern_word(uint64_t at, uint64_t seed) {
  // splitmix64 of the offset and seed: neighbouring words, blocks and runs all differ.
  uint64_t z = at + seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

BlockLoadResult run_block_load(block::BlockDevice& disk, const BlockLoadConfig& config) {
  return Generator(disk, config).run();
}

std::string fill_region(block::BlockDevice& disk, uint64_t region_bytes, uint64_t seed) {
  const uint32_t chunk = std::min<uint32_t>(1u << 20, disk.geometry().max_transfer);
  const uint32_t depth = std::max<uint32_t>(1, std::min<uint32_t>(8, disk.geometry().queue_depth));
  const uint64_t end = std::min(region_bytes, disk.geometry().capacity) / chunk * chunk;
  auto completions = std::make_shared<Completions>();
  std::vector<Buffer> buffers;
  for (uint32_t i = 0; i < depth; ++i) buffers.push_back(std::make_shared<std::vector<uint8_t>>(chunk));
  uint64_t next = 0;
  uint32_t in_flight = 0;
  std::string error;
  auto issue = [&](uint32_t slot) {
    fill(buffers[slot]->data(), next, chunk, seed);
    block::Request r{block::Op::kWrite, 0, next, chunk, buffers[slot]->data()};
    const int err = disk.submit(
        r, [b = buffers[slot], slot, completions](int status) { completions->push(slot, status); },
        std::chrono::seconds(30));
    next += chunk;
    if (err) error = "a write was refused: " + std::string(std::strerror(err));
    in_flight += err == 0;
  };
  for (uint32_t slot = 0; slot < depth && next < end && error.empty(); ++slot) issue(slot);
  while (in_flight > 0) {
    uint32_t slot = 0;
    int status = 0;
    if (!completions->pop(clock::now() + std::chrono::seconds(30), slot, status)) return "a write did not complete";
    --in_flight;
    if (status && error.empty()) error = "a write failed: " + std::string(std::strerror(status));
    if (next < end && error.empty()) issue(slot);
  }
  return error;
}

}  // namespace side::bench
