// A single-producer, single-consumer ring of fixed-size message slots in memory shared between two processes
// that do not trust each other (protocol.h gives the message format).
//
// A message takes as many consecutive slots as its header and payload need: one for every control message and
// every minimum-size frame (the common case costs what a single-slot ring costs), several for a jumbo frame. The
// payload runs on from the header across slot boundaries and wraps from the last slot to the first.
//
// The geometry (slot size, slot count, largest payload) is fixed by the creator and kept by each side in its own
// private memory; only the two indices and the slots live in shared memory. Each side treats what the other wrote as
// hostile: an index that makes no sense marks the ring broken (the peer is faulty) instead of being used, and a message
// is copied out of its slot, with its length bounded, before anyone looks at it.
#pragma once

#include <algorithm>
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
  // `shared` must be bytes_needed() bytes; the creator zeroes it first (initialize()). `max_payload` (0: what one
  // slot holds) is the largest payload a message may carry; it is capped so that a message fits in half the ring.
  Ring(void* shared, uint32_t nr_slots, uint32_t slot_size, uint32_t max_payload = 0)
      : s_(static_cast<RingShared*>(shared)),
        nr_(nr_slots),
        slot_size_(slot_size),
        max_payload_(payload_limit(nr_slots, slot_size, max_payload)),
        // Attaching happens before the peer runs: the indices are whatever the creator left (0 once initialized).
        produced_(s_ ? s_->head.load(std::memory_order_relaxed) : 0),
        consumed_(s_ ? s_->tail.load(std::memory_order_relaxed) : 0) {}
  void initialize() {
    s_->head.store(0);
    s_->tail.store(0);
    produced_ = consumed_ = 0;
  }

  uint32_t max_payload() const { return max_payload_; }
  // Slots a message with `len` payload bytes takes (64-bit: a hostile length cannot wrap the count).
  uint64_t slots_for(uint64_t len) const {
    if (len <= slot_size_ - SIDE_MSG_HEADER_SIZE) return 1;  // the common case, without a division
    return (SIDE_MSG_HEADER_SIZE + len + slot_size_ - 1) / slot_size_;
  }
  bool broken() const { return broken_; }

  // Producer: keeps the latest `slots` consumed slots from being reused, so that what they held can still be read
  // back (read_back()): the ring then takes messages only while that many slots stay free besides.
  void keep_history(uint32_t slots) { history_ = std::min(slots, nr_ / 2); }
  // Producer: the index the next message will start at (what read_back() takes).
  uint32_t produced() const { return produced_; }

  // Producer. False if the ring is full (or broken); the message is not sent.
  bool push(const side_msg& header, std::span<const uint8_t> payload = {}) {
    if (broken_ || payload.size() > max_payload()) return false;
    // Ours: only we write it, and we remember what we wrote; the peer changing it breaks the ring.
    uint32_t head = produced_;
    if (s_->head.load(std::memory_order_relaxed) != head) {
      broken_ = true;
      return false;
    }
    uint32_t tail = s_->tail.load(std::memory_order_acquire);
    if (head - tail > nr_) {
      broken_ = true;  // the consumer moved its index past ours
      return false;
    }
    const auto n = static_cast<uint32_t>(slots_for(payload.size()));
    if (nr_ - (head - tail) < n + history_) return false;
    side_msg h = header;
    h.len = static_cast<uint32_t>(payload.size());
    const size_t start = size_t{head & (nr_ - 1)} * slot_size_;
    std::memcpy(s_->slots + start, &h, sizeof h);
    copy_in(start + SIDE_MSG_HEADER_SIZE, payload);
    produced_ = head + n;
    s_->head.store(produced_, std::memory_order_release);
    return true;
  }

  // Consumer. Copies the next message into `header` and its payload into `payload`; returns the payload length, or
  // -1 if the ring is empty or broken. A length the producer claims beyond max_payload(), beyond `payload`, or
  // beyond the slots it published breaks the ring.
  long pop(side_msg& header, std::span<uint8_t> payload) {
    Peeked m;
    if (!next(m, payload.size())) return -1;
    header = m.header;
    copy_out(m.start + SIDE_MSG_HEADER_SIZE, payload.first(m.header.len));
    release(m);
    return m.header.len;
  }

  // Consumer, in place: the next message, its header copied and its payload left where it lies in the slots
  // (`first`, then `second` when it wraps from the last slot to the first). It stays in the ring, and the producer
  // cannot reuse its slots, until release(). Checked as pop() checks. Only for a consumer that trusts its producer
  // (a domain reading the supervisor's frames): the producer can still write the payload while it is looked at.
  struct Peeked {
    side_msg header{};
    std::span<const uint8_t> first, second;
    size_t start = 0;    // byte offset of the header in the slot area
    uint32_t slots = 0;  // slots the message takes
  };
  bool peek(Peeked& m) {
    if (!next(m, max_payload_)) return false;
    const size_t at = m.start + SIDE_MSG_HEADER_SIZE, len = m.header.len;
    const size_t first = std::min(len, area() - at);
    m.first = {s_->slots + at, first};
    m.second = {s_->slots, len - first};
    return true;
  }
  // Gives the slots of the message peek() returned (the oldest one) back to the producer.
  void release(const Peeked& m) {
    consumed_ += m.slots;
    s_->tail.store(consumed_, std::memory_order_release);
  }

  // Producer: copies the payload of the message it pushed at index `at` (produced() before that push), `len` bytes,
  // into `out`; false if its slots were reused since. Whatever the consumer wrote into the slots meanwhile is what
  // is read back: only as trustworthy as the consumer (a transmit journal replays frames of a dead domain's ring).
  bool read_back(uint32_t at, uint32_t len, std::span<uint8_t> out) const {
    if (len > out.size() || len > max_payload_) return false;
    const uint32_t age = produced_ - at;
    if (age > nr_ || age < slots_for(len)) return false;
    copy_out(size_t{at & (nr_ - 1)} * slot_size_ + SIDE_MSG_HEADER_SIZE, out.first(len));
    return true;
  }

  // For a watchdog on the producer's side (any thread): both indices as they are in shared memory, the consumer's
  // read first (the producer's only grows after it, so an honest consumer's is never ahead).
  struct Indices {
    uint32_t consumer, producer;
  };
  Indices indices() const {
    uint32_t tail = s_->tail.load(std::memory_order_acquire);
    return {tail, s_->head.load(std::memory_order_acquire)};
  }
  uint32_t capacity() const { return nr_; }
  // The shared memory itself, as the peer sees it (tests play a hostile peer through it).
  RingShared* shared() const { return s_; }

  bool empty() const { return s_->head.load(std::memory_order_acquire) == s_->tail.load(std::memory_order_relaxed); }
  // Slots in use (a message over several slots counts each).
  uint32_t size() const { return s_->head.load(std::memory_order_acquire) - s_->tail.load(std::memory_order_acquire); }

 private:
  static uint32_t payload_limit(uint32_t nr_slots, uint32_t slot_size, uint32_t wanted) {
    const uint64_t one_slot = slot_size - SIDE_MSG_HEADER_SIZE;
    if (wanted <= one_slot || nr_slots < 4) return static_cast<uint32_t>(one_slot);
    const uint64_t half_ring = uint64_t{nr_slots / 2} * slot_size - SIDE_MSG_HEADER_SIZE;
    return static_cast<uint32_t>(std::min<uint64_t>(wanted, half_ring));
  }
  size_t area() const { return size_t{nr_} * slot_size_; }
  // The consumer's next message (header copied, its payload at most `room` bytes); false if the ring is empty or
  // broken, or the message breaks it.
  bool next(Peeked& m, size_t room) {
    if (broken_) return false;
    uint32_t tail = consumed_;  // ours, as for the producer's index
    if (s_->tail.load(std::memory_order_relaxed) != tail) {
      broken_ = true;
      return false;
    }
    uint32_t head = s_->head.load(std::memory_order_acquire);
    if (head == tail) return false;
    if (head - tail > nr_) {
      broken_ = true;
      return false;
    }
    m.start = size_t{tail & (nr_ - 1)} * slot_size_;
    std::memcpy(&m.header, s_->slots + m.start, sizeof m.header);
    const uint32_t len = m.header.len;  // our private copy: the producer cannot change it any more
    const uint64_t n = slots_for(len);
    if (len > max_payload_ || len > room || n > head - tail) {
      broken_ = true;
      return false;
    }
    m.slots = static_cast<uint32_t>(n);
    return true;
  }
  // The slots as one circular byte area: a payload that runs past the last slot continues in the first. `at` is
  // inside the area (a payload starts in its header's slot, after the header).
  void copy_in(size_t at, std::span<const uint8_t> from) {
    const size_t first = std::min(from.size(), area() - at);
    if (first) std::memcpy(s_->slots + at, from.data(), first);
    if (from.size() > first) std::memcpy(s_->slots, from.data() + first, from.size() - first);
  }
  void copy_out(size_t at, std::span<uint8_t> to) const {
    const size_t first = std::min(to.size(), area() - at);
    if (first) std::memcpy(to.data(), s_->slots + at, first);
    if (to.size() > first) std::memcpy(to.data() + first, s_->slots, to.size() - first);
  }

  RingShared* s_ = nullptr;
  uint32_t nr_ = 0;
  uint32_t slot_size_ = 0;
  uint32_t max_payload_ = 0;
  uint32_t history_ = 0;                  // consumed slots the producer keeps (keep_history)
  uint32_t produced_ = 0, consumed_ = 0;  // our own index, whichever we are: the shared copy is only published
  bool broken_ = false;
};

}  // namespace side::ipc
