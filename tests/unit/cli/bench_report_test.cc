// side bench's report: ratios are isolated over in-process for the same size and direction, Table V divides the
// all-on throughput by the one-off throughput, goals are judged on the worse direction, and a failed point is
// never turned into a figure.
#include "cli/bench_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace side::cli {
namespace {

bench::ThroughputPoint point(const char* iso, const char* dir, size_t size, uint64_t packets, double cpu_sup,
                             double cpu_dom, const char* disabled = "") {
  bench::ThroughputPoint p;
  p.isolation = iso;
  p.direction = dir;
  p.frame_size = size;
  p.disabled = disabled;
  p.seconds = 1.0;
  p.packets = packets;
  p.bytes = packets * size;
  p.cpu_supervisor_s = cpu_sup;
  p.cpu_domain_s = cpu_dom;
  return p;
}

bench::BenchResults results() {
  bench::BenchResults r;
  r.throughput = {
      point("inproc", "tx", 60, 1'000'000, 1.0, 0), point("process", "tx", 60, 990'000, 0.6, 0.5),
      point("inproc", "rx", 60, 2'000'000, 1.0, 0), point("process", "rx", 60, 1'500'000, 0.5, 0.5),
      point("inproc", "tx", 1514, 100'000, 1.0, 0), point("process", "tx", 1514, 100'000, 0.5, 0.5),
      point("inproc", "rx", 1514, 100'000, 1.0, 0), point("process", "rx", 1514, 99'500, 0.5, 0.5),
  };
  r.throughput[1].traps = 99;  // isolated tx 64 B: 990000 packets
  r.throughput[3].traps = 3;   // isolated rx 64 B: 1500000 packets
  r.optimisations = {point("process", "tx", 60, 495'000, 0.5, 0.5, "batched")};
  // Probe times of the isolated runs: the median of 4, 6, 3 and 4 ms is 4 ms.
  r.throughput[1].probe_ms = 4.0;
  r.throughput[3].probe_ms = 6.0;
  r.throughput[5].probe_ms = 3.0;
  r.throughput[7].probe_ms = 4.0;
  return r;
}

const nlohmann::json* find(const nlohmann::json& list, const std::string& dir, uint64_t size) {
  for (const auto& x : list) {
    if (x["direction"] == dir && x["frame_size"] == size) return &x;
  }
  return nullptr;
}

TEST(BenchReport, RatiosAreIsolatedOverInProcessPerSizeAndDirection) {
  auto j = nlohmann::json::parse(bench_json(results()));
  const auto* tx64 = find(j["ratios"], "tx", 64);
  ASSERT_NE(tx64, nullptr);
  EXPECT_NEAR((*tx64)["throughput"].get<double>(), 0.99, 1e-9);
  // CPU per packet: (0.6 + 0.5) s / 990000 against 1.0 s / 1000000.
  EXPECT_NEAR((*tx64)["cpu_per_packet"].get<double>(), (1.1 / 990'000) / (1.0 / 1'000'000), 1e-5);  // 6 digits
  const auto* rx64 = find(j["ratios"], "rx", 64);
  ASSERT_NE(rx64, nullptr);
  EXPECT_NEAR((*rx64)["throughput"].get<double>(), 0.75, 1e-9);
  const auto* rx1518 = find(j["ratios"], "rx", 1518);
  ASSERT_NE(rx1518, nullptr);
  EXPECT_NEAR((*rx1518)["throughput"].get<double>(), 0.995, 1e-9);
}

TEST(BenchReport, TableFiveDividesAllOnByOneOff) {
  auto j = nlohmann::json::parse(bench_json(results()));
  bool seen = false;
  for (const auto& x : j["optimisation_ratios"]) {
    if (x["optimisation"] == "batched" && x["direction"] == "tx" && x["frame_size"] == 64) {
      EXPECT_NEAR(x["throughput_with_over_without"].get<double>(), 2.0, 1e-9);
      seen = true;
    } else {
      EXPECT_TRUE(x["throughput_with_over_without"].is_null()) << x.dump();  // not measured: no figure
    }
  }
  EXPECT_TRUE(seen);
}

TEST(BenchReport, GoalsAreJudgedOnTheWorseDirection) {
  auto j = nlohmann::json::parse(bench_json(results()));
  ASSERT_EQ(j["goals"].size(), 11u);
  // Throughput at 64 B: tx 0.99 passes, rx 0.75 does not; the goal reports 0.75.
  EXPECT_NEAR(j["goals"][0]["measured"].get<double>(), 0.75, 1e-9);
  EXPECT_FALSE(j["goals"][0]["met"].get<bool>());
  // At 1518 B: tx 1.0, rx 0.995 - both at least 0.99.
  EXPECT_NEAR(j["goals"][1]["measured"].get<double>(), 0.995, 1e-9);
  EXPECT_TRUE(j["goals"][1]["met"].get<bool>());
  // Packet rate at 64 B isolated: the worse of 0.99 and 1.5 Mpps.
  EXPECT_NEAR(j["goals"][3]["measured"].get<double>(), 0.99, 1e-9);
  EXPECT_FALSE(j["goals"][3]["met"].get<bool>());
  // Traps: the worst isolated point, 99 traps over 990000 packets.
  EXPECT_NEAR(j["goals"][4]["measured"].get<double>(), 1e-4, 1e-9);
  EXPECT_TRUE(j["goals"][4]["met"].get<bool>());
  // Probe: the median of the isolated runs (4, 6, 3 and 4 ms).
  EXPECT_NEAR(j["goals"][5]["measured"].get<double>(), 4.0, 1e-9);
  EXPECT_TRUE(j["goals"][5]["met"].get<bool>());
  // sfi: no sfi point measured, no figure and no pass.
  EXPECT_TRUE(j["goals"][9]["measured"].is_null());
  EXPECT_FALSE(j["goals"][9]["met"].get<bool>());
  EXPECT_TRUE(j["goals"][10]["measured"].is_null());
  EXPECT_FALSE(j["goals"][10]["met"].get<bool>());
}

// sfi is one more mode: its goals come from its 64 B points against in-process, and the tables get its column and
// its ratios; --quick's sfi, measured at 64 B only, says so at 1518 B.
TEST(BenchReport, SfiGoalsAndColumnsComeFromItsPoints) {
  auto r = results();
  r.throughput.push_back(point("sfi", "tx", 60, 980'000, 1.05, 0));   // 0.98 of in-process; CPU 1.05/0.98
  r.throughput.push_back(point("sfi", "rx", 60, 1'800'000, 1.2, 0));  // 0.90 of in-process; CPU 1.2/0.9
  auto j = nlohmann::json::parse(bench_json(r));
  ASSERT_EQ(j["goals"].size(), 11u);
  EXPECT_NEAR(j["goals"][9]["measured"].get<double>(), 0.9, 1e-9);  // the worse direction, rx
  EXPECT_FALSE(j["goals"][9]["met"].get<bool>());
  EXPECT_NEAR(j["goals"][10]["measured"].get<double>(), (1.2 / 1.8e6) / (1.0 / 2e6), 1e-5);  // rx: 1.333, 6 digits
  EXPECT_FALSE(j["goals"][10]["met"].get<bool>());
  const auto* tx64 = find(j["ratios"], "tx", 64);
  ASSERT_NE(tx64, nullptr);
  EXPECT_NEAR((*tx64)["sfi_throughput"].get<double>(), 0.98, 1e-9);
  const std::string md = bench_markdown(r, {});
  EXPECT_NE(md.find("| frame | dir | in-process | isolated | sfi | isolated / in-process | sfi / in-process |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 64 | tx | 1000000 | 990000 | 980000 | 0.990 | 0.980 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1518 | tx | 100000 | 100000 | not measured |"), std::string::npos) << md;
}

// Each driver mode as a fraction of the relay at the same point; the table shows each mode's spread.
TEST(BenchReport, ModesAreReportedAgainstTheRelayWithTheirSpread) {
  auto r = results();
  r.throughput.push_back(point("relay", "tx", 60, 2'000'000, 1.0, 0));
  r.throughput.back().runs = 3;
  r.throughput.back().pps_min = 1'900'000;
  r.throughput.back().pps_max = 2'100'000;
  auto j = nlohmann::json::parse(bench_json(r));
  bool inproc = false, isolated = false;
  for (const auto& f : j["relay_fractions"]) {
    if (f["direction"] != "tx" || f["frame_size"] != 64) {
      EXPECT_TRUE(f["throughput"].is_null()) << f.dump();  // no relay point there: no fraction
      continue;
    }
    const bool is_inproc = f["isolation"] == "inproc";
    (is_inproc ? inproc : isolated) = true;
    EXPECT_NEAR(f["throughput"].get<double>(), is_inproc ? 0.5 : 0.495, 1e-9);
  }
  EXPECT_TRUE(inproc && isolated);
  const std::string md = bench_markdown(r, {});
  EXPECT_NE(md.find("| frame | dir | relay | in-process | isolated |"), std::string::npos) << md;
  EXPECT_NE(md.find("2000000 (1900000-2100000)"), std::string::npos) << md;
}

TEST(BenchReport, TcpAndRecoveryGoalsAreJudged) {
  auto r = results();
  bench::TcpPoint in, iso;
  in.isolation = "inproc";
  in.receiver_gbps = 2.0;
  iso.isolation = "process";
  iso.receiver_gbps = 1.8;
  r.tcp = {in, iso};
  for (double ms : {8.0, 9.0, 12.0, 30.0}) {
    supervisor::RecoveryTimings t;
    t.total_ms = 1.0;  // open again within 1 ms: the goal is the time until traffic flows
    t.flowing_ms = ms;
    r.recovery.recoveries.push_back(t);
  }
  auto j = nlohmann::json::parse(bench_json(r));
  ASSERT_EQ(j["goals"].size(), 11u);
  EXPECT_NEAR(j["goals"][6]["measured"].get<double>(), 0.9, 1e-9);  // TCP: 1.8 / 2.0, below 0.95
  EXPECT_FALSE(j["goals"][6]["met"].get<bool>());
  EXPECT_NEAR(j["goals"][7]["measured"].get<double>(), 10.5, 1e-9);  // median of 8, 9, 12, 30 ms
  EXPECT_FALSE(j["goals"][7]["met"].get<bool>());
  EXPECT_NEAR(j["goals"][8]["measured"].get<double>(), 30.0, 1e-9);  // p99, nearest rank
  EXPECT_FALSE(j["goals"][8]["met"].get<bool>());
}

TEST(BenchReport, ARecoveryWhoseTrafficNeverResumedFailsTheRecoveryGoals) {
  auto r = results();
  for (double ms : {3.0, 4.0, -1.0}) {  // the third recovery's traffic never flowed again
    supervisor::RecoveryTimings t;
    t.flowing_ms = ms;
    r.recovery.recoveries.push_back(t);
  }
  auto j = nlohmann::json::parse(bench_json(r));
  EXPECT_NEAR(j["goals"][7]["measured"].get<double>(), 3.5, 1e-9);  // of those that flowed
  EXPECT_FALSE(j["goals"][7]["met"].get<bool>());
  EXPECT_FALSE(j["goals"][8]["met"].get<bool>());
}

TEST(BenchReport, AFailedPointGivesNoRatioAndNoPass) {
  auto r = results();
  r.throughput[1].error = "3 corrupt frames";
  auto j = nlohmann::json::parse(bench_json(r));
  const auto* tx64 = find(j["ratios"], "tx", 64);
  ASSERT_NE(tx64, nullptr);
  EXPECT_TRUE((*tx64)["throughput"].is_null());
  EXPECT_TRUE(j["goals"][0]["measured"].is_null());
  EXPECT_FALSE(j["goals"][0]["met"].get<bool>());
  EXPECT_NE(bench_markdown(r, {}).find("3 corrupt frames"), std::string::npos);
}

}  // namespace
}  // namespace side::cli
