#include "ipc/ring.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "ipc/doorbell.h"

namespace side::ipc {
namespace {

struct Shared {
  explicit Shared(size_t n) : size(n) {
    p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  }
  ~Shared() { munmap(p, size); }
  size_t size;
  void* p;
};

side_msg msg(uint16_t type, uint64_t cookie) {
  side_msg m{};
  m.type = type;
  m.cookie = cookie;
  return m;
}

TEST(Ring, MessagesArriveInOrderWithTheirPayload) {
  Shared mem(Ring::bytes_needed(8, 256));
  Ring producer(mem.p, 8, 256), consumer(mem.p, 8, 256);
  producer.initialize();
  for (uint64_t i = 0; i < 8; ++i) {
    std::vector<uint8_t> payload(i * 10, static_cast<uint8_t>(i));
    ASSERT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, i), payload));
  }
  EXPECT_FALSE(producer.push(msg(SIDE_MSG_TX_FRAME, 99)));  // full
  std::vector<uint8_t> buf(256);
  for (uint64_t i = 0; i < 8; ++i) {
    side_msg h{};
    long n = consumer.pop(h, buf);
    ASSERT_EQ(n, static_cast<long>(i * 10));
    EXPECT_EQ(h.cookie, i);
    EXPECT_EQ(h.type, SIDE_MSG_TX_FRAME);
    for (long k = 0; k < n; ++k) ASSERT_EQ(buf[k], i);
  }
  side_msg h{};
  EXPECT_EQ(consumer.pop(h, buf), -1);
  EXPECT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, 100)));
}

TEST(Ring, OversizedPayloadIsNotSent) {
  Shared mem(Ring::bytes_needed(4, 128));
  Ring r(mem.p, 4, 128);
  r.initialize();
  std::vector<uint8_t> big(128 - SIDE_MSG_HEADER_SIZE + 1);
  EXPECT_FALSE(r.push(msg(1, 1), big));
  EXPECT_TRUE(r.empty());
}

// Found by ring_fuzz (tests/fuzz/ipc/regressions/ub-pop-empty-message-into-no-buffer): popping a message without
// payload into an empty buffer passed a null destination to memcpy (undefined behaviour; fatal under UBSan).
TEST(Ring, EmptyMessageIntoAnEmptyBuffer) {
  Shared mem(Ring::bytes_needed(4, 128));
  Ring r(mem.p, 4, 128);
  r.initialize();
  ASSERT_TRUE(r.push(msg(7, 9)));
  side_msg m{};
  EXPECT_EQ(r.pop(m, std::span<uint8_t>()), 0);
  EXPECT_EQ(m.type, 7);
  EXPECT_EQ(m.cookie, 9u);
  EXPECT_TRUE(r.empty());
}

TEST(Ring, HostileIndicesAndLengthsBreakTheRingInsteadOfBeingUsed) {
  Shared mem(Ring::bytes_needed(4, 128));
  Ring producer(mem.p, 4, 128), consumer(mem.p, 4, 128);
  producer.initialize();
  auto* shared = static_cast<RingShared*>(mem.p);
  // A producer claiming more messages than slots.
  shared->head.store(1000);
  side_msg h{};
  std::vector<uint8_t> buf(128);
  EXPECT_EQ(consumer.pop(h, buf), -1);
  EXPECT_TRUE(consumer.broken());

  Ring c2(mem.p, 4, 128);
  producer = Ring(mem.p, 4, 128);
  producer.initialize();
  ASSERT_TRUE(producer.push(msg(1, 1)));
  // The producer rewrites the length after publishing: the consumer's copy is bounded by the slot.
  reinterpret_cast<side_msg*>(shared->slots)->len = 100000;
  EXPECT_EQ(c2.pop(h, buf), -1);
  EXPECT_TRUE(c2.broken());

  // A consumer that moves its index past the producer's.
  Ring p3(mem.p, 4, 128);
  p3.initialize();
  shared->tail.store(50);
  EXPECT_FALSE(p3.push(msg(1, 1)));
  EXPECT_TRUE(p3.broken());
}

TEST(Ring, APeerRewritingOurOwnIndexBreaksTheRing) {
  Shared mem(Ring::bytes_needed(4, 128));
  Ring producer(mem.p, 4, 128), consumer(mem.p, 4, 128);
  producer.initialize();
  auto* shared = static_cast<RingShared*>(mem.p);
  ASSERT_TRUE(producer.push(msg(1, 1)));
  // The consumer moves the producer's index back: the producer would overwrite what it published.
  shared->head.store(0);
  EXPECT_FALSE(producer.push(msg(1, 2)));
  EXPECT_TRUE(producer.broken());

  Ring p2(mem.p, 4, 128), c2(mem.p, 4, 128);
  p2.initialize();
  ASSERT_TRUE(p2.push(msg(1, 1)));
  ASSERT_TRUE(p2.push(msg(1, 2)));
  side_msg h{};
  std::vector<uint8_t> buf(128);
  ASSERT_EQ(c2.pop(h, buf), 0);
  // The producer moves the consumer's index back: the consumer would take a message twice.
  shared->tail.store(0);
  EXPECT_EQ(c2.pop(h, buf), -1);
  EXPECT_TRUE(c2.broken());
}

// A payload byte that depends on the message and the position, so a misplaced or torn copy shows.
uint8_t pattern(uint64_t message, size_t i) {
  return static_cast<uint8_t>(message * 31 + i * 7 + (i >> 8));
}

std::vector<uint8_t> patterned(uint64_t message, size_t len) {
  std::vector<uint8_t> p(len);
  for (size_t i = 0; i < len; ++i) p[i] = pattern(message, i);
  return p;
}

TEST(Ring, LargeMessagesTakeSeveralSlotsAndWrapAround) {
  constexpr uint32_t kSlots = 16, kSlot = 256, kMax = 1800;
  Shared mem(Ring::bytes_needed(kSlots, kSlot));
  Ring producer(mem.p, kSlots, kSlot, kMax), consumer(mem.p, kSlots, kSlot, kMax);
  producer.initialize();
  ASSERT_EQ(producer.max_payload(), kMax);
  EXPECT_EQ(producer.slots_for(0), 1u);
  EXPECT_EQ(producer.slots_for(kSlot - SIDE_MSG_HEADER_SIZE), 1u);  // the common case stays one slot
  EXPECT_EQ(producer.slots_for(kSlot - SIDE_MSG_HEADER_SIZE + 1), 2u);
  std::vector<uint8_t> buf(kMax);
  // Sizes chosen to land messages across the end of the slot array many times, in every phase.
  uint64_t sent = 0, received = 0;
  for (int round = 0; round < 400; ++round) {
    const size_t len = (round * 397) % (kMax + 1);
    while (!producer.push(msg(SIDE_MSG_TX_FRAME, sent), patterned(sent, len))) {
      side_msg h{};
      long n = consumer.pop(h, buf);
      ASSERT_GE(n, 0) << "a full ring must have something to take";
      ASSERT_EQ(h.cookie, received);
      for (long i = 0; i < n; ++i) ASSERT_EQ(buf[i], pattern(received, i)) << "message " << received << " byte " << i;
      ++received;
    }
    ++sent;
  }
  side_msg h{};
  while (consumer.pop(h, buf) >= 0) ++received;
  EXPECT_EQ(received, sent);
  EXPECT_FALSE(consumer.broken());
  EXPECT_TRUE(consumer.empty());
}

TEST(Ring, AMessageThatDoesNotFitInTheFreeSlotsWaits) {
  Shared mem(Ring::bytes_needed(8, 256));
  Ring producer(mem.p, 8, 256, 1000), consumer(mem.p, 8, 256, 1000);
  producer.initialize();
  ASSERT_TRUE(producer.push(msg(1, 1), std::vector<uint8_t>(900)));   // 4 slots
  ASSERT_TRUE(producer.push(msg(1, 2), std::vector<uint8_t>(600)));   // 3 slots
  EXPECT_FALSE(producer.push(msg(1, 3), std::vector<uint8_t>(300)));  // 2 slots, 1 free: not sent
  EXPECT_FALSE(producer.broken());
  EXPECT_EQ(producer.size(), 7u);
  std::vector<uint8_t> buf(1000);
  side_msg h{};
  EXPECT_EQ(consumer.pop(h, buf), 900);
  EXPECT_TRUE(producer.push(msg(1, 3), std::vector<uint8_t>(300)));
}

// A consumer that trusts its producer (the domain's transmit queue) uses a message in place: peek() shows it where it
// lies, in two pieces when it wraps past the last slot, and it stays (the producer cannot reuse its slots) until
// release().
TEST(Ring, PeekShowsAMessageInPlaceUntilItIsReleased) {
  constexpr uint32_t kSlots = 8, kSlot = 256, kMax = 1000;
  Shared mem(Ring::bytes_needed(kSlots, kSlot));
  Ring producer(mem.p, kSlots, kSlot, kMax), consumer(mem.p, kSlots, kSlot, kMax);
  producer.initialize();
  std::vector<uint8_t> buf(kMax);
  side_msg h{};
  ASSERT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, 0), patterned(0, 600)));  // slots 0-2
  ASSERT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, 1), patterned(1, 600)));  // slots 3-5
  ASSERT_EQ(consumer.pop(h, buf), 600);
  ASSERT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, 2), patterned(2, 600)));  // slots 6, 7, 0: wraps
  Ring::Peeked m;
  ASSERT_TRUE(consumer.peek(m));
  EXPECT_EQ(m.header.cookie, 1u);
  EXPECT_TRUE(consumer.peek(m));  // not consumed: the same message again
  EXPECT_EQ(m.header.cookie, 1u);
  ASSERT_EQ(m.first.size(), 600u);
  EXPECT_TRUE(m.second.empty());
  for (size_t i = 0; i < 600; ++i) ASSERT_EQ(m.first[i], pattern(1, i));
  // Its slots are still taken: a message that needs them waits.
  EXPECT_FALSE(producer.push(msg(SIDE_MSG_TX_FRAME, 3), patterned(3, 600)));
  consumer.release(m);
  ASSERT_TRUE(consumer.peek(m));
  EXPECT_EQ(m.header.cookie, 2u);
  ASSERT_EQ(m.first.size() + m.second.size(), 600u);
  EXPECT_FALSE(m.second.empty()) << "the payload runs from the last slot into the first";
  for (size_t i = 0; i < 600; ++i) {
    const uint8_t b = i < m.first.size() ? m.first[i] : m.second[i - m.first.size()];
    ASSERT_EQ(b, pattern(2, i)) << "byte " << i;
  }
  consumer.release(m);
  EXPECT_FALSE(consumer.peek(m));
  EXPECT_FALSE(consumer.broken());
  EXPECT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, 3), patterned(3, 600)));
}

TEST(Ring, PeekBreaksOnAHostileLengthAsPopDoes) {
  Shared mem(Ring::bytes_needed(8, 256));
  Ring producer(mem.p, 8, 256), consumer(mem.p, 8, 256);
  producer.initialize();
  ASSERT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, 0), std::vector<uint8_t>(10)));
  reinterpret_cast<side_msg*>(producer.shared()->slots)->len = 100000;  // claims more than was published
  Ring::Peeked m;
  EXPECT_FALSE(consumer.peek(m));
  EXPECT_TRUE(consumer.broken());
}

// A producer that keeps history (the supervisor's transmit ring, for recovery's journal) can read back what it
// sent until the slots are reused, and never reuses the latest `history` consumed slots.
TEST(Ring, KeptHistoryCanBeReadBackUntilItsSlotsAreReused) {
  constexpr uint32_t kSlots = 8, kSlot = 256;
  Shared mem(Ring::bytes_needed(kSlots, kSlot));
  Ring producer(mem.p, kSlots, kSlot), consumer(mem.p, kSlots, kSlot);
  producer.initialize();
  producer.keep_history(4);
  std::vector<uint8_t> buf(kSlot), back(kSlot);
  side_msg h{};
  std::vector<uint32_t> at;
  for (uint64_t i = 0; i < 4; ++i) {
    at.push_back(producer.produced());
    ASSERT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, i), patterned(i, 100)));
  }
  EXPECT_FALSE(producer.push(msg(SIDE_MSG_TX_FRAME, 4), patterned(4, 100))) << "4 slots are kept free";
  for (int i = 0; i < 4; ++i) ASSERT_EQ(consumer.pop(h, buf), 100);
  // All four were taken; each can still be read back as it was sent.
  for (uint64_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(producer.read_back(at[i], 100, back)) << i;
    for (size_t k = 0; k < 100; ++k) ASSERT_EQ(back[k], pattern(i, k));
  }
  // Four more fill the free slots; the oldest four are still intact (history), a fifth must wait for a pop.
  for (uint64_t i = 4; i < 8; ++i) {
    at.push_back(producer.produced());
    ASSERT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, i), patterned(i, 100)));
  }
  EXPECT_FALSE(producer.push(msg(SIDE_MSG_TX_FRAME, 8), patterned(8, 100)));
  for (uint64_t i = 0; i < 8; ++i) EXPECT_TRUE(producer.read_back(at[i], 100, back)) << i;
  ASSERT_EQ(consumer.pop(h, buf), 100);
  at.push_back(producer.produced());
  ASSERT_TRUE(producer.push(msg(SIDE_MSG_TX_FRAME, 8), patterned(8, 100)));
  EXPECT_FALSE(producer.read_back(at[0], 100, back)) << "its slot was reused";
  EXPECT_TRUE(producer.read_back(at[1], 100, back));
  EXPECT_FALSE(producer.read_back(producer.produced(), 100, back)) << "nothing was sent there yet";
  EXPECT_FALSE(producer.read_back(at[1], kSlot + 1, back)) << "longer than any message";
}

TEST(Ring, LargestPayloadIsCappedToHalfTheRingAndBeyondItIsNotSent) {
  Shared mem(Ring::bytes_needed(8, 256));
  Ring r(mem.p, 8, 256, 1u << 30);
  r.initialize();
  EXPECT_EQ(r.max_payload(), 4 * 256 - SIDE_MSG_HEADER_SIZE);
  EXPECT_FALSE(r.push(msg(1, 1), std::vector<uint8_t>(r.max_payload() + 1)));
  EXPECT_TRUE(r.empty());
  EXPECT_TRUE(r.push(msg(1, 1), std::vector<uint8_t>(r.max_payload())));
}

TEST(Ring, IndicesThatWrapAroundTheirTypeCarryMultiSlotMessages) {
  Shared mem(Ring::bytes_needed(8, 128));
  auto* shared = static_cast<RingShared*>(mem.p);
  shared->head.store(0xffff'fffeu);
  shared->tail.store(0xffff'fffeu);
  // Each side takes its own index from the shared memory when it attaches.
  Ring producer(mem.p, 8, 128, 400), consumer(mem.p, 8, 128, 400);
  std::vector<uint8_t> buf(400);
  for (uint64_t i = 0; i < 20; ++i) {
    ASSERT_TRUE(producer.push(msg(1, i), patterned(i, 300)));  // 3 slots, across 2^32
    side_msg h{};
    ASSERT_EQ(consumer.pop(h, buf), 300);
    for (size_t k = 0; k < 300; ++k) ASSERT_EQ(buf[k], pattern(i, k));
  }
  EXPECT_FALSE(consumer.broken());
}

// What a hostile producer can write into the header of the next message after publishing it.
class HostileLength : public ::testing::TestWithParam<uint32_t> {};

TEST_P(HostileLength, BreaksTheRingAndIsNeverCopied) {
  Shared mem(Ring::bytes_needed(16, 128));
  Ring producer(mem.p, 16, 128, 900), consumer(mem.p, 16, 128, 900);
  producer.initialize();
  ASSERT_EQ(consumer.max_payload(), 900u);
  ASSERT_TRUE(producer.push(msg(1, 1), std::vector<uint8_t>(10)));  // one slot published
  auto* shared = static_cast<RingShared*>(mem.p);
  reinterpret_cast<side_msg*>(shared->slots)->len = GetParam();
  std::vector<uint8_t> buf(1000, 0xee);
  side_msg h{};
  EXPECT_EQ(consumer.pop(h, buf), -1);
  EXPECT_TRUE(consumer.broken());
  EXPECT_EQ(buf[999], 0xee);
  EXPECT_EQ(shared->tail.load(), 0u);  // nothing consumed
}

// Beyond the largest payload; 2^32-1 (whose slot count would wrap a 32-bit sum); more slots than the producer
// published (64 + 100 bytes need 2); more slots than the ring has.
INSTANTIATE_TEST_SUITE_P(Ring, HostileLength, ::testing::Values(901u, 0xffff'ffffu, 0xffff'ffc0u, 100u, 2000u));

TEST(Ring, AZeroLengthMessageIsOneSlot) {
  Shared mem(Ring::bytes_needed(4, 128));
  Ring producer(mem.p, 4, 128, 200), consumer(mem.p, 4, 128, 200);
  producer.initialize();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(producer.push(msg(1, i)));
  EXPECT_FALSE(producer.push(msg(1, 9)));
  std::vector<uint8_t> buf(1);
  side_msg h{};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(consumer.pop(h, buf), 0);
  EXPECT_FALSE(consumer.broken());
}

TEST(Ring, CrossProcessStreamOfFramesOfEverySize) {
  constexpr uint64_t kCount = 30000;
  constexpr uint32_t kSlots = 64, kSlot = 2048, kMax = 16384;
  const size_t ring_bytes = Ring::bytes_needed(kSlots, kSlot);
  Shared mem(ring_bytes);
  Ring(mem.p, kSlots, kSlot, kMax).initialize();
  auto length = [](uint64_t i) { return static_cast<size_t>((i * 7919) % (kMax + 1)); };
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Ring producer(mem.p, kSlots, kSlot, kMax);
    for (uint64_t i = 0; i < kCount;) {
      if (producer.push(msg(SIDE_MSG_RX_FRAME, i), patterned(i, length(i)))) ++i;
    }
    _exit(0);
  }
  Ring consumer(mem.p, kSlots, kSlot, kMax);
  std::vector<uint8_t> buf(kMax);
  uint64_t next = 0;
  bool intact = true;
  while (next < kCount && !consumer.broken()) {
    side_msg h{};
    long n = consumer.pop(h, buf);
    if (n < 0) continue;
    intact &= static_cast<size_t>(n) == length(next) && h.cookie == next;
    for (long k = 0; intact && k < n; ++k) intact &= buf[k] == pattern(next, k);
    ++next;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_FALSE(consumer.broken());
  EXPECT_TRUE(intact);
  EXPECT_EQ(next, kCount);
}

// A sleeping consumer is woken by one system call, however many bells are rung before it runs again: the first
// ring takes the sleeping mark, the others find it gone. No bell is lost.
TEST(Doorbell, OneWakeUpForManyRingsWhileTheConsumerSleeps) {
  std::atomic<uint32_t> word{0};
  std::atomic<uint32_t> got{0};
  std::thread consumer([&] { got = Doorbell(&word).wait(0, 10'000'000'000); });  // one sleep, then it is awake
  while (!(word.load() & Doorbell::kSleeping)) std::this_thread::yield();
  Doorbell bell(&word);
  EXPECT_TRUE(bell.ring(1));  // it slept: a wake-up
  EXPECT_FALSE(bell.ring(2));
  EXPECT_FALSE(bell.ring(4));
  consumer.join();
  EXPECT_EQ(got.load() | Doorbell(&word).take(), 7u);  // what it took, and what was rung after it woke
  EXPECT_FALSE(Doorbell(&word).ring(1));               // awake (not waiting): no system call
}

TEST(Ring, CrossProcessStreamWithDoorbell) {
  constexpr uint64_t kCount = 200000;
  const size_t ring_bytes = Ring::bytes_needed(64, 128);
  Shared mem(ring_bytes + 64);
  auto* word = reinterpret_cast<std::atomic<uint32_t>*>(static_cast<uint8_t*>(mem.p) + ring_bytes);
  word->store(0);
  Ring(mem.p, 64, 128).initialize();
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Ring producer(mem.p, 64, 128);
    Doorbell bell(word);
    for (uint64_t i = 0; i < kCount;) {
      uint8_t payload[8];
      std::memcpy(payload, &i, 8);
      if (producer.push(msg(SIDE_MSG_RX_FRAME, i), payload)) {
        ++i;
        bell.ring(1);
      }
    }
    _exit(0);
  }
  Ring consumer(mem.p, 64, 128);
  Doorbell bell(word);
  std::vector<uint8_t> buf(64);
  uint64_t next = 0;
  bool in_order = true;
  while (next < kCount) {
    side_msg h{};
    long n = consumer.pop(h, buf);
    if (n < 0) {
      ASSERT_FALSE(consumer.broken());
      bell.wait(20'000, 1'000'000'000);
      continue;
    }
    uint64_t v;
    std::memcpy(&v, buf.data(), 8);
    in_order &= n == 8 && v == next && h.cookie == next;
    ++next;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(in_order);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace side::ipc
