// A row's steps: in order, a failure ends the row (every later step "not run", whatever is recorded for it later),
// and settling a row that ended early fails the step it was at.
#include "conformance/row.h"

#include <gtest/gtest.h>

namespace side::conformance {
namespace {

TEST(ConformanceRow, EveryStepPassedIsAPass) {
  RowResult r("e1000", "builtin");
  EXPECT_FALSE(r.ok());  // nothing recorded yet
  for (Step s : kSteps) r.pass(s);
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.first_failure());
}

TEST(ConformanceRow, AFailureMarksEveryLaterStepNotRun) {
  RowResult r("8139cp", "qemu:rtl8139");
  r.pass(Step::kProbe);
  r.pass(Step::kLink);
  r.fail(Step::kPing, "3 of 20 pings lost");
  EXPECT_EQ(r.step(Step::kProbe).outcome, Outcome::kPass);
  EXPECT_EQ(r.step(Step::kPing).outcome, Outcome::kFail);
  EXPECT_EQ(r.step(Step::kPing).reason, "3 of 20 pings lost");
  for (Step s : {Step::kTcp, Step::kRecovery, Step::kClose}) {
    EXPECT_EQ(r.step(s).outcome, Outcome::kNotRun) << step_name(s);
    EXPECT_FALSE(r.may_run(s)) << step_name(s);
  }
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.first_failure(), Step::kPing);
}

TEST(ConformanceRow, NothingIsRecordedAfterAFailure) {
  RowResult r("pcnet32", "qemu:pcnet");
  r.fail(Step::kProbe, "6 kernel functions missing");
  r.pass(Step::kLink);
  r.fail(Step::kTcp, "a later reason");
  r.pass(Step::kClose);
  EXPECT_EQ(r.step(Step::kLink).outcome, Outcome::kNotRun);
  EXPECT_EQ(r.step(Step::kTcp).outcome, Outcome::kNotRun);
  EXPECT_EQ(r.step(Step::kClose).outcome, Outcome::kNotRun);
  EXPECT_EQ(r.first_failure(), Step::kProbe);
}

TEST(ConformanceRow, StepsMayBeRecordedOutOfOrderWhileNoneFailed) {
  // The session's workload records ping before the row learns its probe time: pending steps do not block.
  RowResult r("e1000", "qemu:e1000");
  r.pass(Step::kPing);
  EXPECT_EQ(r.step(Step::kPing).outcome, Outcome::kPass);
  EXPECT_TRUE(r.may_run(Step::kTcp));
}

TEST(ConformanceRow, SettlingFailsTheFirstPendingStepWithTheSessionsError) {
  RowResult r("e1000", "builtin");
  r.pass(Step::kProbe);
  r.pass(Step::kLink);
  r.pass(Step::kPing);
  r.settle("driver fault");
  EXPECT_EQ(r.step(Step::kTcp).outcome, Outcome::kFail);
  EXPECT_EQ(r.step(Step::kTcp).reason, "driver fault");
  EXPECT_EQ(r.step(Step::kRecovery).outcome, Outcome::kNotRun);
  EXPECT_EQ(r.step(Step::kClose).outcome, Outcome::kNotRun);
  // A settled row does not change again; a complete one is left as it is.
  r.settle("another");
  EXPECT_EQ(r.step(Step::kTcp).reason, "driver fault");
  RowResult done("e1000", "builtin");
  for (Step s : kSteps) done.pass(s);
  done.settle("ignored");
  EXPECT_TRUE(done.ok());
}

TEST(ConformanceRow, SettlingWithoutAReasonStillSaysWhy) {
  RowResult r("e1000", "builtin");
  r.settle("");
  EXPECT_EQ(r.step(Step::kProbe).outcome, Outcome::kFail);
  EXPECT_FALSE(r.step(Step::kProbe).reason.empty());
}

TEST(ConformanceRow, ReasonsAreOneShortLine) {
  EXPECT_EQ(short_reason("open: timed out\nmore detail"), "open: timed out");
  const std::string cut = short_reason(std::string(200, 'x'), 40);
  EXPECT_EQ(cut.size(), 40u);
  EXPECT_EQ(cut.substr(37), "...");
  RowResult r("e1000", "builtin");
  r.fail(Step::kProbe, std::string(500, 'y') + "\nsecond line");
  EXPECT_LE(r.step(Step::kProbe).reason.size(), 90u);
}

TEST(ConformanceRow, StepAndOutcomeNamesAreTheJsonMembers) {
  EXPECT_STREQ(step_name(Step::kProbe), "probe");
  EXPECT_STREQ(step_name(Step::kTcp), "tcp");
  EXPECT_STREQ(step_name(Step::kClose), "close");
  EXPECT_STREQ(outcome_name(Outcome::kNotRun), "not run");
  EXPECT_STREQ(outcome_name(Outcome::kFail), "fail");
}

}  // namespace
}  // namespace side::conformance
