// The frames the host asked a domain to transmit (host -> driver), waiting for vCPU 1. A round takes a batch
// (64 frames with batched submission, else one), hands it to the driver in its guarded call, and puts back, in
// order, what the driver did not take: a stopped queue (the driver said busy) holds the rest until it wakes.
// No lock is held while the driver runs (a fault would skip its release).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <vector>

namespace side::domain {

class TransmitQueue {
 public:
  using Xmit = int (*)(uint64_t netdev, const void* frame, uint32_t len, int more);

  explicit TransmitQueue(bool batched) : batch_limit_(batched ? kBatch : 1) {}
  // Any thread. False when the queue is full.
  bool push(uint64_t netdev, std::span<const uint8_t> frame);
  // vCPU 1, before the guarded call: moves the next batch out of the queue; whether there is one.
  bool take_batch();
  // vCPU 1, inside the guarded call: hands the batch to `xmit` until it is done or the driver stops its queue.
  void submit(Xmit xmit);
  // vCPU 1, after the guarded call: what was not taken goes back to the front. Whether frames still wait for
  // a queue that is not stopped (another round is due).
  bool put_back();
  // The driver woke its queue (netif_wake_queue).
  void wake() { blocked_ = false; }

 private:
  static constexpr size_t kLimit = 4096;
  static constexpr size_t kBatch = 64;
  struct Frame {
    uint64_t netdev;
    std::vector<uint8_t> data;
  };

  const size_t batch_limit_;
  std::mutex mutex_;
  std::deque<Frame> queue_;
  std::vector<Frame> batch_;
  size_t batch_done_ = 0;
  std::atomic<bool> blocked_{false};
};

}  // namespace side::domain
