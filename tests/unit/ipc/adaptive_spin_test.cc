#include "ipc/adaptive_spin.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ipc/doorbell.h"

namespace side::ipc {
namespace {

TEST(AdaptiveSpin, HalvesAfterEverySpinThatEndedInASleepDownToItsFloor) {
  AdaptiveSpin s(20'000);
  EXPECT_EQ(s.next(), 20'000u);
  s.missed();
  EXPECT_EQ(s.next(), 10'000u);
  for (int i = 0; i < 10; ++i) s.missed();
  EXPECT_EQ(s.budget(), AdaptiveSpin::kMinNs);
}

TEST(AdaptiveSpin, GrowsBackToTwiceWhatACaughtBellTookBoundedByTheMaximum) {
  AdaptiveSpin s(20'000);
  for (int i = 0; i < 10; ++i) s.missed();
  s.caught(3'000);
  EXPECT_EQ(s.budget(), 6'000u);
  s.caught(50'000);
  EXPECT_EQ(s.budget(), 20'000u);
}

TEST(AdaptiveSpin, EverySixteenthWaitProbesTheWholeMaximum) {
  AdaptiveSpin s(20'000);
  for (int i = 0; i < 10; ++i) s.missed();
  int probes = 0;
  for (unsigned i = 0; i < 4 * AdaptiveSpin::kProbeEvery; ++i) probes += s.next() == 20'000u;
  EXPECT_EQ(probes, 4);
}

TEST(AdaptiveSpin, ZeroNeverSpins) {
  AdaptiveSpin s(0), d;
  s.caught(100);
  EXPECT_EQ(s.next(), 0u);
  EXPECT_EQ(d.next(), 0u);
}

TEST(AdaptiveSpin, ADoorbellWithNoBellSpinsOutShrinksTheBudgetAndReturnsNothing) {
  std::atomic<uint32_t> word{0};
  Doorbell bell(&word);
  AdaptiveSpin s(20'000);
  EXPECT_EQ(bell.wait(s, 100'000), 0u);
  EXPECT_EQ(s.budget(), 10'000u);
}

TEST(AdaptiveSpin, ADoorbellRungFromAnotherThreadIsTakenWhateverTheBudget) {
  std::atomic<uint32_t> word{0};
  Doorbell bell(&word);
  AdaptiveSpin s(20'000);
  for (int round = 0; round < 50; ++round) {
    std::thread producer([&] { Doorbell(&word).ring(1u << (round % 8)); });
    uint32_t bits = 0;
    for (int tries = 0; !bits && tries < 100; ++tries) bits = bell.wait(s, 10'000'000);
    producer.join();
    EXPECT_EQ(bits, 1u << (round % 8)) << "round " << round;
  }
  EXPECT_GE(s.budget(), AdaptiveSpin::kMinNs);
  EXPECT_LE(s.budget(), 20'000u);
}

}  // namespace
}  // namespace side::ipc
