#include "domain/transmit_queue.h"

namespace side::domain {

bool TransmitQueue::push(uint64_t netdev, std::span<const uint8_t> frame) {
  std::lock_guard lock(mutex_);
  if (queue_.size() >= kLimit) return false;
  queue_.push_back(Frame{netdev, std::vector<uint8_t>(frame.begin(), frame.end())});
  return true;
}

bool TransmitQueue::take_batch() {
  std::lock_guard lock(mutex_);
  if (!blocked_.load()) {
    while (batch_.size() < batch_limit_ && !queue_.empty()) {
      batch_.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  batch_done_ = 0;
  return !batch_.empty();
}

void TransmitQueue::submit(Xmit xmit) {
  for (; batch_done_ < batch_.size() && xmit; ++batch_done_) {
    const Frame& f = batch_[batch_done_];
    const int more = batch_done_ + 1 < batch_.size();
    if (xmit(f.netdev, f.data.data(), static_cast<uint32_t>(f.data.size()), more) == 1) {
      blocked_ = true;  // stopped queue: wait for the driver to wake it
      break;
    }
  }
}

bool TransmitQueue::put_back() {
  std::lock_guard lock(mutex_);
  for (size_t i = batch_.size(); i > batch_done_; --i) queue_.push_front(std::move(batch_[i - 1]));
  batch_.clear();
  return !queue_.empty() && !blocked_.load();
}

}  // namespace side::domain
