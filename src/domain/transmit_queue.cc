#include "domain/transmit_queue.h"

#include <algorithm>

#include "ipc/channel.h"
#include "ipc/codec.h"

namespace side::domain {
namespace {

// As many minimum-size frames as an unisolated domain queued before the queue was a ring (4096), each in a slot
// the size of the channel's: 8 MiB of address space, touched only as far as frames fill it.
constexpr ipc::RingGeometry kPrivateTxRing{4096, ipc::kTxRing.slot_size, ipc::kTxRing.max_payload};

}  // namespace

TransmitQueue::TransmitQueue(bool batched, ipc::Ring* shared) : batch_limit_(batched ? kBatch : 1), ring_(shared) {
  if (!ring_) {
    own_.reset(new uint8_t[ipc::Ring::bytes_needed(kPrivateTxRing.slots, kPrivateTxRing.slot_size)]);
    own_ring_ = kPrivateTxRing.make(own_.get());
    own_ring_.initialize();
    ring_ = &own_ring_;
  }
  bounce_.resize(ring_->max_payload());
}

bool TransmitQueue::push(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload) {
  if (ring_ != &own_ring_) return false;
  auto h = ipc::encode<ipc::TxFrame>({netdev, offload}, frame);
  if (!h) return false;
  std::lock_guard lock(produce_mu_);
  return ring_->push(*h, frame);
}

void TransmitQueue::submit(Xmit xmit) {
  if (!xmit || stopped_.load()) return;
  for (size_t i = 0; i < batch_limit_; ++i) {
    ipc::Ring::Peeked m;
    if (!ring_->peek(m)) return;
    const std::span<const uint8_t> frame = contiguous(m);
    auto tx = ipc::decode<ipc::TxFrame>(m.header, frame);
    if (!tx) {
      ring_->release(m);
      continue;
    }
    const int more = i + 1 < batch_limit_ && ring_->size() > m.slots;
    const side_tx_offload& offload = tx->args.offload;
    const bool plain = offload.flags == 0 && offload.gso_type == SIDE_TX_GSO_NONE;
    if (xmit(tx->args.netdev, frame.data(), static_cast<uint32_t>(frame.size()), more, plain ? nullptr : &offload) ==
        1) {
      stopped_ = true;  // the frame stays first: the driver wakes its queue (wake()) when it can take it
      return;
    }
    ring_->release(m);
  }
}

std::span<const uint8_t> TransmitQueue::contiguous(const ipc::Ring::Peeked& m) {
  if (m.second.empty()) return m.first;
  std::copy(m.first.begin(), m.first.end(), bounce_.begin());
  std::copy(m.second.begin(), m.second.end(), bounce_.begin() + static_cast<long>(m.first.size()));
  return {bounce_.data(), m.first.size() + m.second.size()};
}

}  // namespace side::domain
