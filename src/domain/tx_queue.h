// The frames waiting for a domain's drivers to transmit them (host -> driver): a ring of protocol.h messages
// (SIDE_MSG_TX_FRAME). In a domain process it is the channel's transmit ring, which the supervisor fills; in an
// unisolated domain it is a private ring of the same kind, which submit() fills.
//
// vCPU 1 hands each frame to the driver straight from its slot (transmit()): the kernel-API layer copies it into
// the skb it builds in DMA memory, and that is the frame's only copy inside the domain. A frame leaves the ring
// once the driver took (or refused) it; one the driver cannot take now (its queue is stopped) stays first in line,
// so nothing is copied back and no frame is allocated for on the way.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "ipc/channel.h"
#include "ipc/codec.h"

namespace side::domain {

class TxQueue {
 public:
  // A private ring (an unisolated domain): as many frames as a domain queues at most.
  TxQueue();
  // The channel's transmit ring: the supervisor is the producer, submit() refuses.
  explicit TxQueue(ipc::Ring& shared) : ring_(&shared), bounce_(shared.max_payload()) {}

  // Producer of a private ring (any thread): false if the queue is full (or not ours to fill).
  bool submit(uint64_t netdev, std::span<const uint8_t> frame);
  bool empty() const { return ring_->broken() || ring_->empty(); }

  // Consumer (vCPU 1, inside the guarded call that runs driver code). Hands at most `batch` frames, oldest first,
  // to `xmit(netdev, frame, more)` (`more`: another frame follows in this batch, the driver may defer its tail
  // write), which returns 1 if the driver's queue is stopped (the frame stays queued) and anything else once the
  // frame was taken or refused for good. True if transmission stopped on a stopped queue. A message that is not a
  // well-formed frame is dropped.
  template <class Xmit>
  bool transmit(size_t batch, Xmit&& xmit) {
    for (size_t i = 0; i < batch; ++i) {
      ipc::Ring::Peeked m;
      if (!ring_->peek(m)) return false;
      const std::span<const uint8_t> frame = contiguous(m);
      auto tx = ipc::decode<ipc::TxFrame>(m.header, frame);
      if (!tx) {
        ring_->release(m);
        continue;
      }
      const bool more = i + 1 < batch && ring_->size() > m.slots;
      if (xmit(tx->args.netdev, frame, more) == 1) return true;
      ring_->release(m);
    }
    return false;
  }

 private:
  // The payload in one piece: in place, or copied once into the bounce buffer when it wraps past the last slot.
  std::span<const uint8_t> contiguous(const ipc::Ring::Peeked& m);

  std::unique_ptr<uint8_t[]> own_;  // a private ring's memory
  ipc::Ring own_ring_;
  ipc::Ring* ring_;
  std::mutex produce_mu_;  // a private ring has one producer at a time
  std::vector<uint8_t> bounce_;
};

}  // namespace side::domain
