// The frames the host asked a domain to transmit (host -> driver), waiting for vCPU 1: a ring of protocol.h
// messages (SIDE_MSG_TX_FRAME). In a domain process it is the channel's transmit ring, which the supervisor fills;
// in an unisolated domain it is a private ring of the same kind, which push() fills.
//
// A round hands a batch (64 frames with batched submission, else one) to the driver in its guarded call, each frame
// straight from its slot: the kernel-API layer copies it into the skb it builds in DMA memory, and that is the
// frame's only copy inside the domain. A frame leaves the ring once the driver took it (or refused it for good).
// One the driver cannot take now (it said busy: its queue is stopped) stays first in line, and the stopped queue
// holds every frame until the driver wakes it. Nothing is copied back or allocated per frame, and no lock is held
// while the driver runs (a fault would skip its release).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "ipc/ring.h"
#include "ipc/wire.h"

namespace side::domain {

class TransmitQueue {
 public:
  // The kernel-API layer's transmit entry: 1 if the driver's queue is stopped (the frame was not taken), anything
  // else once the frame was taken or refused for good. `more`: another frame follows in this batch (the driver may
  // defer its tail write); `offload`: the checksum and segmentation the frame asks for (side_kapi_xmit).
  using Xmit = int (*)(uint64_t netdev, const void* frame, uint32_t len, int more, const side_tx_offload* offload);

  // `shared`: the channel's transmit ring, whose producer is the supervisor (push() refuses); null: a private ring
  // (an unisolated domain) of as many frames as a domain queues at most.
  explicit TransmitQueue(bool batched, ipc::Ring* shared = nullptr);

  // Producer of a private ring (any thread). False when the queue is full (or not ours to fill).
  bool push(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload = {});
  // vCPU 1: whether frames wait for a queue that is not stopped (a round is due).
  bool ready() const { return !stopped_.load() && !ring_->broken() && !ring_->empty(); }
  // vCPU 1, inside the guarded call: hands the next batch, oldest first, to `xmit` until it is done or the driver
  // stops its queue. A message that is not a well-formed frame is dropped.
  void submit(Xmit xmit);
  // The driver woke its queue (netif_wake_queue).
  void wake() { stopped_ = false; }

 private:
  // The payload in one piece: in place, or copied once into the bounce buffer when it wraps past the last slot.
  std::span<const uint8_t> contiguous(const ipc::Ring::Peeked& m);

  static constexpr size_t kBatch = 64;
  static constexpr size_t kCacheLine = 64;
  const size_t batch_limit_;
  std::unique_ptr<uint8_t[]> own_;  // a private ring's memory
  ipc::Ring own_ring_;
  ipc::Ring* ring_;
  // The producer's lock on a cache line of its own: beside the fields vCPU 1 reads in every round (stopped_, ring_,
  // bounce_), each lock and unlock took the line back from the other CPU (a tenth of the 64-byte transmit profile).
  alignas(kCacheLine) std::mutex produce_mu_;  // a private ring has one producer at a time
  alignas(kCacheLine) std::vector<uint8_t> bounce_;
  std::atomic<bool> stopped_{false};
};

}  // namespace side::domain
