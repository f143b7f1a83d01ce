#include "domain/tx_queue.h"

#include <algorithm>
#include <cstring>

namespace side::domain {
namespace {

// As many minimum-size frames as an unisolated domain queued before the queue was a ring (4096), each in a slot
// the size of the channel's: 8 MiB of address space, touched only as far as frames fill it.
constexpr ipc::RingGeometry kPrivateTxRing{4096, ipc::kTxRing.slot_size, ipc::kTxRing.max_payload};

}  // namespace

TxQueue::TxQueue()
    : own_(new uint8_t[ipc::Ring::bytes_needed(kPrivateTxRing.slots, kPrivateTxRing.slot_size)]),
      own_ring_(kPrivateTxRing.make(own_.get())),
      ring_(&own_ring_) {
  own_ring_.initialize();
  bounce_.resize(own_ring_.max_payload());
}

bool TxQueue::submit(uint64_t netdev, std::span<const uint8_t> frame) {
  if (ring_ != &own_ring_) return false;
  auto h = ipc::encode<ipc::TxFrame>({netdev}, frame);
  if (!h) return false;
  std::lock_guard lock(produce_mu_);
  return ring_->push(*h, frame);
}

std::span<const uint8_t> TxQueue::contiguous(const ipc::Ring::Peeked& m) {
  if (m.second.empty()) return m.first;
  std::copy(m.first.begin(), m.first.end(), bounce_.begin());
  std::copy(m.second.begin(), m.second.end(), bounce_.begin() + static_cast<long>(m.first.size()));
  return {bounce_.data(), m.first.size() + m.second.size()};
}

}  // namespace side::domain
