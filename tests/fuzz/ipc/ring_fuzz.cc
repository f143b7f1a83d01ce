// Fuzz target for the shared-memory ring, doorbell and channel-header layer (src/ipc) with a hostile peer. Two
// rings share memory with the peer: on one we produce and the peer consumes (as the supervisor's control, reply
// and tx rings), on the other the peer produces and we consume (events, device, rx). Between our pushes and pops
// the peer writes any head or tail index and any slot bytes, or follows the protocol. A doorbell word and a
// channel header the peer wrote are exercised too.
//
// Checked, beyond "no sanitizer report": a pop never returns more than the slot or our buffer holds; a broken ring
// stays broken and moves nothing; while the peer follows the protocol, the ring is an exact FIFO (every message
// arrives once, in order, byte for byte) and a push fails only when the ring is full; an index the peer moved out
// of range breaks the ring at our next operation; the doorbell never reports its sleeping flag as an event and
// never blocks when asked not to wait.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <vector>

#include "fuzz_input.h"
#include "ipc/channel.h"
#include "ipc/doorbell.h"
#include "ipc/ring.h"

namespace {

using namespace side::ipc;
using side::fuzz::Input;

constexpr uint32_t kSlots = 8, kSlotSize = 128;
constexpr uint32_t kMaxPayload = kSlotSize - SIDE_MSG_HEADER_SIZE;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// One ring and what we know about it: our private copy of the geometry, the messages in flight while the peer
// plays by the rules, and whether it has stopped doing so.
struct Side {
  RingShared* shared;
  Ring ring;
  std::deque<std::vector<uint8_t>> in_flight;  // payloads, cookie = sequence number
  uint64_t next_cookie = 0, expect_cookie = 0;
  bool tampered = false;

  uint8_t* slot(uint32_t index) { return shared->slots + size_t{index % kSlots} * kSlotSize; }
};

struct Rings {
  alignas(64) std::array<uint8_t, 2 * 4096> memory;
  Side ours;    // we produce, the peer consumes
  Side theirs;  // the peer produces, we consume
  std::atomic<uint32_t> bell_word;

  void reset() {
    std::fill(memory.begin(), memory.end(), 0);
    for (int i = 0; i < 2; ++i) {
      Side& s = i ? theirs : ours;
      s = Side{reinterpret_cast<RingShared*>(memory.data() + i * 4096), {}, {}, 0, 0, false};
      s.ring = Ring(s.shared, kSlots, kSlotSize);
      s.ring.initialize();
    }
    bell_word.store(0);
  }
};

// More messages in the ring than it has slots (the peer moved an index): the ring must refuse to be used.
bool indices_out_of_range(Side& s) {
  return s.shared->head.load() - s.shared->tail.load() > kSlots;
}

std::vector<uint8_t> make_payload(Input& in, size_t max) {
  std::vector<uint8_t> p(std::min<size_t>(in.u8(), max));
  in.bytes(p.data(), std::min<size_t>(p.size(), 4));  // a few fuzzed bytes, then a pattern
  for (size_t i = 4; i < p.size(); ++i) p[i] = static_cast<uint8_t>(i * 31);
  return p;
}

// We push; while untampered, success is exactly "not full".
void our_push(Side& s, Input& in) {
  std::vector<uint8_t> p = make_payload(in, kMaxPayload + 16);
  side_msg m{};
  m.type = 1;
  m.cookie = s.next_cookie;
  bool was_broken = s.ring.broken();
  bool out_of_range = indices_out_of_range(s);
  bool ok = s.ring.push(m, p);
  if (was_broken) check(!ok && s.ring.broken());
  if (out_of_range && p.size() <= kMaxPayload) check(!ok && s.ring.broken());
  if (!s.tampered) check(ok == (p.size() <= kMaxPayload && s.in_flight.size() < kSlots));
  if (ok) {
    ++s.next_cookie;
    s.in_flight.push_back(std::move(p));
  }
}

// The peer consumes by the rules: the message it finds is the oldest we sent.
void peer_pop(Side& s) {
  uint32_t head = s.shared->head.load(), tail = s.shared->tail.load();
  if (head == tail || head - tail > kSlots) return;
  side_msg m;
  std::memcpy(&m, s.slot(tail), sizeof m);
  if (!s.tampered) {
    check(!s.in_flight.empty() && m.cookie == s.expect_cookie && m.len == s.in_flight.front().size());
    check(std::equal(s.in_flight.front().begin(), s.in_flight.front().end(), s.slot(tail) + SIDE_MSG_HEADER_SIZE));
  }
  if (!s.in_flight.empty()) s.in_flight.pop_front();
  ++s.expect_cookie;
  s.shared->tail.store(tail + 1);
}

// The peer produces by the rules, except that it may lie about the length.
void peer_push(Side& s, Input& in) {
  uint32_t head = s.shared->head.load(), tail = s.shared->tail.load();
  if (head - tail >= kSlots) return;
  std::vector<uint8_t> p = make_payload(in, kMaxPayload);
  side_msg m{};
  m.cookie = s.next_cookie++;
  m.len = static_cast<uint32_t>(p.size());
  if (in.u8() == 0xff) {
    m.len = in.u32();
    s.tampered = true;
  }
  std::memcpy(s.slot(head), &m, sizeof m);
  std::copy(p.begin(), p.end(), s.slot(head) + SIDE_MSG_HEADER_SIZE);
  s.in_flight.push_back(std::move(p));
  s.shared->head.store(head + 1);
}

// We consume into a buffer of a fuzzed size.
void our_pop(Side& s, Input& in) {
  std::vector<uint8_t> buffer(in.u8() % (kMaxPayload + 8));
  side_msg m;
  bool was_broken = s.ring.broken();
  bool out_of_range = indices_out_of_range(s);
  long n = s.ring.pop(m, buffer);
  if (was_broken || out_of_range) check(n == -1 && s.ring.broken());
  check(n <= static_cast<long>(std::min<size_t>(kMaxPayload, buffer.size())));
  if (n < 0) {
    // Empty is only an answer while we expect nothing, unless the ring is refused (broken) or tampered with.
    if (!s.tampered && !s.ring.broken()) check(s.in_flight.empty());
    return;
  }
  check(static_cast<size_t>(n) == m.len);
  if (!s.tampered) {
    check(!s.in_flight.empty() && m.cookie == s.expect_cookie && s.in_flight.front().size() == size_t(n));
    check(std::equal(buffer.begin(), buffer.begin() + n, s.in_flight.front().begin()));
  }
  if (!s.in_flight.empty()) s.in_flight.pop_front();
  ++s.expect_cookie;
}

// The peer writes an index it does not own (or its own one out of step), or slot bytes.
void peer_scribble(Side& s, Input& in) {
  uint8_t what = in.u8();
  s.tampered = true;
  std::atomic<uint32_t>& index = (what & 1) ? s.shared->head : s.shared->tail;
  uint32_t before = index.load();
  switch ((what >> 1) % 3) {
    case 0:
      index.store(in.u32());
      break;
    case 1:
      index.store(before + static_cast<int8_t>(in.u8()));  // near the right value: off by a few
      break;
    default: {
      uint32_t at = in.u16() % (kSlots * kSlotSize);
      uint8_t len = in.u8() % 16;
      for (uint8_t i = 0; i < len && at + i < kSlots * kSlotSize; ++i) s.shared->slots[at + i] = in.u8();
    }
  }
}

void doorbell_op(std::atomic<uint32_t>& word, Input& in) {
  Doorbell bell(&word);
  switch (in.u8() % 4) {
    case 0:
      word.store(in.u32());  // the peer writes anything
      break;
    case 1:
      bell.ring(in.u32());
      break;
    case 2:
      check((bell.take() & Doorbell::kSleeping) == 0);
      break;
    default:
      // Neither spinning nor sleeping: must return at once whatever the word holds.
      check((bell.wait(0, 0) & Doorbell::kSleeping) == 0);
  }
}

// A channel header as the peer wrote it: attach() must refuse anything but this build's magic, version and size.
void header_op(Input& in) {
  static std::vector<uint8_t>* memory = new std::vector<uint8_t>(Channel::size_needed() + 64);
  auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(memory->data()) + 63) & ~uintptr_t{63});
  auto* h = reinterpret_cast<ChannelHeader*>(base);
  h->magic = (in.u8() & 1) ? SIDE_IPC_MAGIC : in.u32();
  h->version = (in.u8() & 1) ? SIDE_IPC_VERSION : in.u32();
  h->total_size = (in.u8() & 1) ? Channel::size_needed() : in.u64();
  size_t size = Channel::size_needed() - ((in.u8() & 1) ? 64 : 0);
  bool valid = h->magic == SIDE_IPC_MAGIC && h->version == SIDE_IPC_VERSION &&
               h->total_size == Channel::size_needed() && size == Channel::size_needed();
  check(static_cast<bool>(Channel::attach(base, size, false)) == valid);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Rings* rings = new Rings();
  rings->reset();
  Input in{data, size};
  for (int op = 0; op < 1024 && !in.done(); ++op) {
    uint8_t code = in.u8();
    Side& s = (code & 0x80) ? rings->theirs : rings->ours;
    switch (code % 8) {
      case 0:
        our_push(rings->ours, in);
        break;
      case 1:
        peer_pop(rings->ours);
        break;
      case 2:
        peer_push(rings->theirs, in);
        break;
      case 3:
        our_pop(rings->theirs, in);
        break;
      case 4:
        peer_scribble(s, in);
        break;
      case 5:
        doorbell_op(rings->bell_word, in);
        break;
      case 6:
        header_op(in);
        break;
      default:
        check(s.ring.size() == s.shared->head.load() - s.shared->tail.load());
    }
  }
  return 0;
}
