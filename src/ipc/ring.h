// A single-producer, single-consumer ring of fixed-size message slots in memory shared between two processes
// that do not trust each other (protocol.h gives the message format).
//
// The geometry (slot size, slot count) is fixed by the creator and kept by each side in its own private memory;
// only the two indices and the slots live in shared memory. Each side treats what the other wrote as hostile: an
// index that makes no sense marks the ring broken (the peer is faulty) instead of being used, and a message is
// copied out of its slot, with its length bounded, before anyone looks at it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "common/result.h"
#include "ipc/protocol.h"

namespace side::ipc {

static_assert(sizeof(side_msg) == SIDE_MSG_HEADER_SIZE);

// Shared-memory layout of one ring: indices on their own cache lines, then the slots.
struct RingShared {
  alignas(64) std::atomic<uint32_t> head;  // written by the producer: slots [tail, head) are full
  alignas(64) std::atomic<uint32_t> tail;  // written by the consumer
  alignas(64) uint8_t slots[];
};
static_assert(std::atomic<uint32_t>::is_always_lock_free);

class Ring {
 public:
  // Bytes of shared memory a ring of `nr_slots` (a power of two) slots of `slot_size` bytes needs.
  static size_t bytes_needed(uint32_t nr_slots, uint32_t slot_size) {
    return sizeof(RingShared) + size_t{nr_slots} * slot_size;
  }

  Ring() = default;
  // `shared` must be bytes_needed() bytes; the creator zeroes it first (initialize()).
  Ring(void* shared, uint32_t nr_slots, uint32_t slot_size)
      : s_(static_cast<RingShared*>(shared)), nr_(nr_slots), slot_size_(slot_size) {}
  void initialize() {
    s_->head.store(0);
    s_->tail.store(0);
  }

  uint32_t max_payload() const { return slot_size_ - SIDE_MSG_HEADER_SIZE; }
  bool broken() const { return broken_; }

  // Producer. False if the ring is full (or broken); the message is not sent.
  bool push(const side_msg& header, std::span<const uint8_t> payload = {}) {
    if (broken_ || payload.size() > max_payload()) return false;
    uint32_t head = s_->head.load(std::memory_order_relaxed);  // ours: only we write it
    uint32_t tail = s_->tail.load(std::memory_order_acquire);
    if (head - tail > nr_) {
      broken_ = true;  // the consumer moved its index past ours
      return false;
    }
    if (head - tail == nr_) return false;
    uint8_t* slot = s_->slots + size_t{head & (nr_ - 1)} * slot_size_;
    side_msg h = header;
    h.len = static_cast<uint32_t>(payload.size());
    std::memcpy(slot, &h, sizeof h);
    if (!payload.empty()) std::memcpy(slot + SIDE_MSG_HEADER_SIZE, payload.data(), payload.size());
    s_->head.store(head + 1, std::memory_order_release);
    return true;
  }

  // Consumer. Copies the next message into `header` and up to `payload.size()` bytes into `payload`; returns the
  // payload length, or -1 if the ring is empty or broken. A length the producer claims beyond the slot breaks it.
  long pop(side_msg& header, std::span<uint8_t> payload) {
    if (broken_) return -1;
    uint32_t tail = s_->tail.load(std::memory_order_relaxed);
    uint32_t head = s_->head.load(std::memory_order_acquire);
    if (head == tail) return -1;
    if (head - tail > nr_) {
      broken_ = true;
      return -1;
    }
    const uint8_t* slot = s_->slots + size_t{tail & (nr_ - 1)} * slot_size_;
    std::memcpy(&header, slot, sizeof header);
    uint32_t len = header.len;  // our private copy: the producer cannot change it any more
    if (len > max_payload() || len > payload.size()) {
      broken_ = true;
      return -1;
    }
    if (len) std::memcpy(payload.data(), slot + SIDE_MSG_HEADER_SIZE, len);  // an empty span may be null
    s_->tail.store(tail + 1, std::memory_order_release);
    return len;
  }

  bool empty() const { return s_->head.load(std::memory_order_acquire) == s_->tail.load(std::memory_order_relaxed); }
  uint32_t size() const { return s_->head.load(std::memory_order_acquire) - s_->tail.load(std::memory_order_acquire); }

 private:
  RingShared* s_ = nullptr;
  uint32_t nr_ = 0;
  uint32_t slot_size_ = 0;
  bool broken_ = false;
};

}  // namespace side::ipc
