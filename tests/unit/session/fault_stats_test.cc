// The campaign's figure of frames lost per experiment, from the traffic peer's counts, which can go down (frames
// declared lost after a restart, then delivered late once the recovery requeued them). `side inject e1000 --faults
// 6 --seed 3` printed "frames lost 18446744073709551488" for lostirq: the unsigned difference of such a count.
#include <gtest/gtest.h>

#include "session/fault_campaign.h"

namespace side::session {
namespace {

TrafficResult with_lost(uint64_t tx, uint64_t rx) {
  TrafficResult t;
  t.tx.lost = tx;
  t.rx.lost = rx;
  return t;
}

TEST(FramesLost, CountsThatGoDownGiveANegativeNetFigure) {
  EXPECT_EQ(frames_lost_between(with_lost(0, 0), with_lost(3, 4)), 7);
  EXPECT_EQ(frames_lost_between(with_lost(5, 5), with_lost(5, 5)), 0);
  // 128 frames declared lost before the experiment arrived during it.
  EXPECT_EQ(frames_lost_between(with_lost(100, 128), with_lost(100, 0)), -128);
  // One direction loses while the other gets late frames back.
  EXPECT_EQ(frames_lost_between(with_lost(10, 50), with_lost(30, 20)), -10);
}

// Experiments one after another, the peer's counts moving both ways: the per-experiment figures add up to what the
// peer counted over the campaign, as FaultStats::frames_lost sums them.
TEST(FramesLost, ExperimentsAddUpToTheCampaign) {
  const TrafficResult snapshots[] = {with_lost(0, 0),  with_lost(64, 0), with_lost(0, 0),
                                     with_lost(2, 90), with_lost(2, 1),  with_lost(9, 1)};
  FaultStats stats;
  for (size_t i = 1; i < std::size(snapshots); ++i)
    stats.frames_lost += frames_lost_between(snapshots[i - 1], snapshots[i]);
  EXPECT_EQ(stats.frames_lost, 10);
}

}  // namespace
}  // namespace side::session
