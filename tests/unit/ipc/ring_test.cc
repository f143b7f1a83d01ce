#include "ipc/ring.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

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
