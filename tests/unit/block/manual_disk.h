// A disk in memory whose requests complete only when the test says so, in the order it chooses and with the status
// it chooses: what the contract tests and the exporters' tests use to hold requests in flight, reorder them, fail
// them, or never complete them (a hung driver).
#pragma once

#include <cstring>
#include <deque>
#include <mutex>
#include <vector>

#include "block/block_device.h"

namespace side::block::test {

class ManualDisk final : public BlockDevice {
 public:
  explicit ManualDisk(const Geometry& g) : BlockDevice(g), bytes_(g.capacity) {}
  ~ManualDisk() override { drain(std::chrono::milliseconds(0)); }

  size_t pending() {
    std::lock_guard lock(mu_);
    return pending_.size();
  }
  // Completes the request at `index` of those pending (0: the oldest) with `status`; a successful one is
  // performed on the memory first. False when there is none.
  bool complete(size_t index, int status = 0) {
    Job job;
    {
      std::lock_guard lock(mu_);
      if (index >= pending_.size()) return false;
      job = std::move(pending_[index]);
      pending_.erase(pending_.begin() + static_cast<long>(index));
    }
    if (status == 0) perform(job.request);
    job.done(status);
    return true;
  }
  void complete_all() {
    while (complete(0)) {
    }
  }
  // Calls a pending request's completion twice: the device must pass on only the first.
  void complete_twice(size_t index) {
    Completion done;
    {
      std::lock_guard lock(mu_);
      done = pending_.at(index).done;
      pending_.erase(pending_.begin() + static_cast<long>(index));
    }
    done(0);
    done(EIO);
  }
  std::vector<Request> requests() {
    std::lock_guard lock(mu_);
    std::vector<Request> v;
    for (auto& j : pending_) v.push_back(j.request);
    return v;
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 protected:
  void start(const Request& r, Completion done) override {
    std::lock_guard lock(mu_);
    pending_.push_back(Job{r, std::move(done)});
  }

 private:
  struct Job {
    Request request;
    Completion done;
  };
  void perform(const Request& r) {
    if (r.op == Op::kRead) std::memcpy(r.data, bytes_.data() + r.offset, r.length);
    if (r.op == Op::kWrite) std::memcpy(bytes_.data() + r.offset, r.data, r.length);
    if (r.op == Op::kWriteZeroes) std::memset(bytes_.data() + r.offset, 0, r.length);
  }

  std::mutex mu_;
  std::deque<Job> pending_;
  std::vector<uint8_t> bytes_;
};

}  // namespace side::block::test
