// What `side conformance` shows of a row: figures for a passed step, the reason for a failed one, "not run" after
// it, the missing kernel functions; and JSON with every step, unmeasured figures null.
#include "cli/conformance_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace side::cli {
namespace {

using conformance::RowResult;
using conformance::Step;

RowResult passing_row() {
  RowResult r("e1000", "builtin");
  for (Step s : conformance::kSteps) r.pass(s);
  r.probe_ms = 6.93;
  r.link_ms = 2.1;
  r.ping = {20, 20, 0.4, 0.61, 1.2};
  r.tcp.tx.receiver_gbps = 0.934;
  r.tcp.rx.receiver_gbps = 0.881;
  r.recovery.total_ms = 52.4;
  return r;
}

TEST(ConformanceReport, PassedStepsShowTheirFigures) {
  const RowResult r = passing_row();
  EXPECT_EQ(conformance_cell(r, Step::kProbe), "ok 6.93 ms");
  EXPECT_EQ(conformance_cell(r, Step::kPing), "20/20, 0% loss, p50 0.61 ms");
  EXPECT_EQ(conformance_cell(r, Step::kTcp), "tx 0.934, rx 0.881 Gbit/s");
  EXPECT_EQ(conformance_cell(r, Step::kRecovery), "ok 52 ms");
  EXPECT_EQ(conformance_cell(r, Step::kClose), "clean");
  EXPECT_EQ(missing_cell(r, 3), "none");
}

TEST(ConformanceReport, AFailedStepShowsItsReasonAndTheRestNotRun) {
  RowResult r("virtio_net", "qemu:virtio-net-pci");
  r.missing_symbols = {"a", "b", "c", "d"};
  r.fail(Step::kProbe, "4 kernel functions missing");
  EXPECT_EQ(conformance_cell(r, Step::kProbe), "FAIL: 4 kernel functions missing");
  EXPECT_EQ(conformance_cell(r, Step::kLink), "not run");
  EXPECT_EQ(conformance_cell(r, Step::kClose), "not run");
  EXPECT_EQ(missing_cell(r, 3), "4: a, b, c, ...");
  EXPECT_EQ(missing_cell(r, 4), "4: a, b, c, d");
}

TEST(ConformanceReport, JsonHasEveryStepAndNullsForWhatWasNotMeasured) {
  ConformanceRun run;
  run.rows.push_back(passing_row());
  run.rows.emplace_back("pcnet32", "qemu:pcnet");
  run.rows.back().pass(Step::kProbe);
  run.rows.back().pass(Step::kLink);
  run.rows.back().fail(Step::kPing, "18 of 20 pings lost");
  EXPECT_FALSE(run.ok());
  const auto j = nlohmann::json::parse(conformance_json(run));
  EXPECT_EQ(j["schema"], "side-conformance/1");
  EXPECT_EQ(j["passed"], 1);
  EXPECT_EQ(j["failed"], 1);
  const auto& ok = j["rows"][0];
  EXPECT_EQ(ok["ok"], true);
  EXPECT_DOUBLE_EQ(ok["tcp"]["tx"]["receiver_gbps"].get<double>(), 0.934);
  EXPECT_TRUE(ok["probe"]["reason"].is_null());
  const auto& bad = j["rows"][1];
  EXPECT_EQ(bad["ping"]["result"], "fail");
  EXPECT_EQ(bad["ping"]["reason"], "18 of 20 pings lost");
  EXPECT_EQ(bad["tcp"]["result"], "not run");
  EXPECT_TRUE(bad["probe"]["probe_ms"].is_null());
  EXPECT_TRUE(bad["recovery"]["total_ms"].is_null());
}

TEST(ConformanceReport, MarkdownEscapesBars) {
  ConformanceRun run;
  run.rows.emplace_back("e1000", "builtin");
  run.rows.back().fail(Step::kProbe, "a | b");
  EXPECT_NE(conformance_markdown(run).find("FAIL: a \\| b"), std::string::npos) << conformance_markdown(run);
}

}  // namespace
}  // namespace side::cli
