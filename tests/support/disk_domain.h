// A fake domain for the driver-backed disk (session/driver_disk.h) that lies on purpose when told to: a geometry no
// disk has, staging buffers outside the arena, refused submissions, corrupted reads. It serves requests from a
// memory disk at once; their completions are the caller's (block_done), or its own thread's (auto_complete).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "ipc/codec.h"
#include "session/driver_disk.h"

namespace side::test {

struct Submitted {
  uint64_t tag;
  uint32_t op;
};

class DiskDomain final : public supervisor::DriverDomain {
 public:
  side_block_info info{};
  uint64_t buffer_base = 0;                            // where the staging slots start in the arena
  bool refuse_submits = false;                         // answer every submission with a refusal
  bool corrupt_reads = false;                          // flip a byte of every read
  supervisor::BlockListener* auto_complete = nullptr;  // complete every request itself, from another thread
  std::vector<int> reported;                           // fault kinds
  std::atomic<unsigned> gen{0};                        // the generation a recovering domain is at
  std::vector<Submitted> submitted;

  explicit DiskDomain(size_t arena_bytes = 16u << 20, size_t disk_bytes = 4u << 20)
      : arena_(arena_bytes), disk_(disk_bytes) {
    info.capacity = disk_.size() / 512;
    info.logical_block_size = info.physical_block_size = 512;
    info.flags = SIDE_BLOCK_INFO_WRITE_CACHE;
    std::strcpy(info.name, "vdz");
  }
  ~DiskDomain() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (completer_.joinable()) completer_.join();
  }
  const char* isolation() const override { return "test"; }
  int pid() const override { return 0; }
  uint8_t* arena_base() const override { return const_cast<uint8_t*>(arena_.data()); }
  uint64_t arena_size() const override { return arena_.size(); }
  void connect(domain::Platform*) override {}
  Result<std::string> load(const domain::LoadRequest&) override { return std::string("fake"); }
  Result<ipc::ControlAnswer> transact(const ipc::ControlRequest& r) override {
    ipc::ControlAnswer a;
    if (r.head.type == SIDE_MSG_BLOCK_INFO) a.payload = bytes(info);
    if (r.head.type == SIDE_MSG_BLOCK_BUFFER)
      a.payload = bytes(buffer_base + buffers_++ * session::DriverDisk::kSlotBytes);
    if (r.head.type == SIDE_MSG_BLOCK_SUBMIT) a.status = submit(r);
    return a;
  }
  unsigned generation() const override { return gen.load(); }
  void report_fault(int kind, const std::string&) override {
    std::lock_guard lock(mu_);
    reported.push_back(kind);
  }
  void raise_irq(uint32_t) override {}
  bool submit_tx(uint64_t, std::span<const uint8_t>, const side_tx_offload& = {}) override { return false; }
  bool faulty() const override { return false; }
  std::vector<domain::FaultReport> faults() const override { return {}; }
  std::optional<supervisor::DomainCounters> counters() const override { return std::nullopt; }
  void shutdown() override {}
  Status kill() override { return {}; }
  // Waits (at most `timeout`) until `n` requests in all have reached the domain; whether they have.
  bool wait_submitted(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return submitted_cv_.wait_for(lock, timeout, [&] { return submitted.size() >= n; });
  }
  std::vector<uint64_t> submitted_tags() {
    std::lock_guard lock(mu_);
    std::vector<uint64_t> tags;
    for (const auto& s : submitted) tags.push_back(s.tag);
    return tags;
  }
  size_t faults_of(int kind) {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count(reported.begin(), reported.end(), kind));
  }

 private:
  template <class T>
  static std::vector<uint8_t> bytes(const T& v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    return std::vector<uint8_t>(p, p + sizeof v);
  }
  // Carries the request out on the memory disk at once; the completion is the test's (or the completer's).
  int64_t submit(const ipc::ControlRequest& r) {
    auto m = ipc::decode<ipc::BlockSubmit>(r.head, r.payload);
    if (!m || refuse_submits) return -1;
    const auto& a = m->args;
    side_block_seg seg{};
    if (m->payload.size() >= sizeof seg) std::memcpy(&seg, m->payload.data(), sizeof seg);
    uint8_t* at = disk_.data() + a.sector * 512;
    if ((a.op & SIDE_BLOCK_OP_MASK) == SIDE_BLOCK_WRITE) std::memcpy(at, arena_.data() + seg.offset, seg.len);
    if ((a.op & SIDE_BLOCK_OP_MASK) == SIDE_BLOCK_READ) {
      std::memcpy(arena_.data() + seg.offset, at, seg.len);
      if (corrupt_reads) arena_[seg.offset + seg.len / 2] ^= 1;
    }
    std::lock_guard lock(mu_);
    submitted.push_back({a.tag, a.op});
    submitted_cv_.notify_all();
    if (auto_complete) {
      done_.push_back(a.tag);
      if (!completer_.joinable()) completer_ = std::thread([this] { complete_all(); });
      cv_.notify_all();
    }
    return 0;
  }
  void complete_all() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait(lock, [&] { return stop_ || !done_.empty(); });
      while (!done_.empty()) {
        const uint64_t tag = done_.front();
        done_.pop_front();
        lock.unlock();
        auto_complete->block_done(tag, 0);
        lock.lock();
      }
    }
  }

  std::vector<uint8_t> arena_, disk_;
  uint64_t buffers_ = 0;
  std::mutex mu_;
  std::condition_variable cv_, submitted_cv_;
  std::deque<uint64_t> done_;
  bool stop_ = false;
  std::thread completer_;
};

}  // namespace side::test
