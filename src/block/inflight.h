// What one exporter (an NBD connection, the FUSE file) has in flight on a shared device: counted so that it can
// wait, bounded, for its own requests before it goes, without stopping the device for the other exporters. Bytes
// are counted too, so a connection can bound the memory its buffers hold.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace side::block {

class Inflight {
 public:
  // Waits up to `timeout` until one more request of `bytes` fits under `max_requests` and `max_bytes` (a request
  // larger than max_bytes fits when nothing else is in flight), then counts it. False on timeout.
  bool acquire(uint64_t bytes, uint32_t max_requests, uint64_t max_bytes, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    const bool fits = changed_.wait_for(
        lock, timeout, [&] { return requests_ < max_requests && (requests_ == 0 || bytes_ + bytes <= max_bytes); });
    if (!fits) return false;
    ++requests_, bytes_ += bytes;
    return true;
  }
  void release(uint64_t bytes) {
    std::lock_guard lock(mu_);
    --requests_, bytes_ -= bytes;
    changed_.notify_all();
  }
  // True when nothing is in flight any more; false if `timeout` passed first.
  bool wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, timeout, [&] { return requests_ == 0; });
  }
  uint32_t requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  uint32_t requests_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace side::block
