// The supervisor's liveness checks on a channel in ordinary memory, with the test playing the domain: a domain is
// judged by what it does with what the supervisor gave it, on the supervisor's clock, and never cleared by what it
// writes about itself.
#include "supervisor/liveness.h"

#include <gtest/gtest.h>

#include <vector>

#include "ipc/protocol.h"
#include "kapi/side_host.h"

namespace side::supervisor {
namespace {

constexpr uint64_t kMs = 1'000'000;

class LivenessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    void* base = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(memory_.data()) + 63) & ~uintptr_t{63});
    auto c = ipc::Channel::attach(base, ipc::Channel::size_needed(), true);
    ASSERT_TRUE(c);
    channel_.emplace(std::move(*c));
    bounds_.progress_ms = 100;
    bounds_.heartbeat_ms = 10;
    monitor_.emplace(*channel_, bounds_);
    monitor_->start_watching();
  }
  // What the honest domain's vCPU 1 does at the start of each round.
  void softirq_round() { channel_->header().irq_pending.exchange(0); }

  std::vector<uint8_t> memory_ = std::vector<uint8_t>(ipc::Channel::size_needed() + 64);
  std::optional<ipc::Channel> channel_;
  LivenessBounds bounds_;
  std::optional<LivenessMonitor> monitor_;
  uint64_t now_ = 1'000 * kMs;
};

TEST_F(LivenessTest, ADomainThatTakesItsHeartbeatsIsLive) {
  for (int i = 0; i < 200; ++i) {
    ASSERT_FALSE(monitor_->check(now_)) << "at step " << i;
    softirq_round();
    now_ += 5 * kMs;
  }
}

TEST_F(LivenessTest, AStuckSoftirqVcpuIsHungWithinTheBoundWhateverItsStampsSay) {
  ASSERT_FALSE(monitor_->check(now_));  // raises a heartbeat
  EXPECT_NE(channel_->header().irq_pending.load() & (uint64_t{1} << ipc::kIrqHeartbeat), 0u);
  // The domain says nobody is in driver code (busy_since 0) and never takes the heartbeat.
  for (auto& s : channel_->header().busy_since_ns) s.store(0);
  uint64_t hung_at = 0;
  for (uint64_t t = now_; t < now_ + 1000 * kMs; t += 5 * kMs) {
    if (auto v = monitor_->check(t)) {
      EXPECT_EQ(v->kind, SIDE_FAULT_HUNG);
      EXPECT_NE(v->message.find("virtual CPU 1"), std::string::npos) << v->message;
      hung_at = t;
      break;
    }
  }
  ASSERT_NE(hung_at, 0u) << "never found hung";
  EXPECT_LE(hung_at - now_, uint64_t{bounds_.progress_ms + 10} * kMs);
}

TEST_F(LivenessTest, ADomainStampCanOnlyBringTheVerdictEarlier) {
  bounds_.stamp_process_ms = 50;
  monitor_.emplace(*channel_, bounds_);
  monitor_->start_watching();
  channel_->header().busy_since_ns[0].store(now_);
  ASSERT_FALSE(monitor_->check(now_ + 10 * kMs));
  softirq_round();
  auto v = monitor_->check(now_ + 60 * kMs);
  ASSERT_TRUE(v);
  EXPECT_NE(v->message.find("virtual CPU 0"), std::string::npos) << v->message;
}

TEST_F(LivenessTest, AConsumerIndexMovedPastWhatWasProducedIsAFault) {
  side_msg m{};
  m.type = SIDE_MSG_TX_FRAME;
  ASSERT_TRUE(channel_->tx().push(m));
  ASSERT_FALSE(monitor_->check(now_));
  channel_->tx().shared()->tail.store(7);  // one frame was produced
  auto v = monitor_->check(now_);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kind, SIDE_FAULT_PROTOCOL);
  EXPECT_NE(v->message.find("transmit ring"), std::string::npos) << v->message;
}

TEST_F(LivenessTest, AConsumerIndexMovedBackwardsIsAFault) {
  side_msg m{};
  m.type = SIDE_MSG_PROBE;
  ASSERT_TRUE(channel_->control().push(m));
  ASSERT_TRUE(channel_->control().push(m));
  channel_->control().shared()->tail.store(2);  // the domain took both
  ASSERT_FALSE(monitor_->check(now_));
  channel_->control().shared()->tail.store(1);  // and "untakes" one: the supervisor's next request would collide
  auto v = monitor_->check(now_);
  ASSERT_TRUE(v);
  EXPECT_NE(v->message.find("control ring backwards"), std::string::npos) << v->message;
}

TEST_F(LivenessTest, AConsumerFarAheadOfTheLastLookIsNotBackwards) {
  // Between two looks the supervisor may produce, and the domain consume, more than a ring's worth.
  side_msg m{};
  m.type = SIDE_MSG_TX_FRAME;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 500; ++i) ASSERT_TRUE(channel_->tx().push(m));
    channel_->tx().shared()->tail.store(channel_->tx().shared()->head.load());
    if (round == 0) continue;  // (two rounds, 1000 frames, between looks)
    EXPECT_FALSE(monitor_->check(now_)) << "round " << round;
  }
}

TEST_F(LivenessTest, ARewrittenProducerIndexBreaksTheRingAtTheNextPush) {
  side_msg m{};
  ASSERT_TRUE(channel_->tx().push(m));
  channel_->tx().shared()->head.store(0);
  EXPECT_FALSE(channel_->tx().push(m));
  EXPECT_TRUE(channel_->tx().broken());
}

TEST(LivenessBounds, EveryRequestHasABoundAndProbeTheLongest) {
  LivenessBounds b;
  EXPECT_EQ(b.request_bound_ms(SIDE_MSG_PROBE), b.probe_ms);
  EXPECT_EQ(b.request_bound_ms(SIDE_MSG_OPEN), b.probe_ms);
  EXPECT_EQ(b.request_bound_ms(SIDE_MSG_STATS), b.request_ms);
  EXPECT_LE(b.probe_ms, 5000u * kSanitizerSlowdown);
  EXPECT_LE(b.exit_ms, 1000u * kSanitizerSlowdown);
}

}  // namespace
}  // namespace side::supervisor
