// side bench --class block's report: each ratio is isolated over in-process for the same op, size and depth
// (throughput by requests per second, CPU per request over every process counted, and without the generator's
// share), a failed point gives no figure and no ratio, and the report's tables carry the same figures.
#include "cli/block_bench_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace side::cli {
namespace {

bench::BlockPoint point(const char* iso, const char* op, uint32_t size, uint64_t requests, double sup, double dom,
                        double qemu, double generator) {
  bench::BlockPoint p;
  p.isolation = iso;
  p.op = op;
  p.request_bytes = size;
  p.depth = 32;
  p.seconds = 2.0;
  p.requests = requests;
  p.bytes = requests * size;
  p.cpu_supervisor_s = sup;
  p.cpu_domain_s = dom;
  p.cpu_qemu_s = qemu;
  p.cpu_generator_s = generator;
  return p;
}

bench::BlockBenchResults results() {
  bench::BlockBenchResults r;
  r.module = "virtio_blk";
  r.device = "qemu:virtio-blk-pci";
  r.window_s = 2;
  r.points = {point("inproc", "write", 4096, 20'000, 1.0, 0, 1.0, 0.2),
              point("inproc", "read", 4096, 20'000, 1.0, 0, 1.0, 0.2),
              point("process", "write", 4096, 10'000, 0.8, 0.6, 0.6, 0.1),
              point("process", "read", 4096, 16'000, 1.0, 0.6, 1.2, 0.2)};
  return r;
}

TEST(BlockBenchReport, RatiosAreIsolatedOverInProcessPerOpSizeAndDepth) {
  auto j = nlohmann::json::parse(block_bench_json(results()));
  EXPECT_EQ(j["schema"], "side-bench/1");
  EXPECT_EQ(j["class"], "block");
  ASSERT_EQ(j["ratios"].size(), 2u);
  const auto& w = j["ratios"][0];
  EXPECT_EQ(w["op"], "write");
  EXPECT_EQ(w["request_bytes"], 4096);
  EXPECT_EQ(w["depth"], 32);
  EXPECT_DOUBLE_EQ(w["throughput"].get<double>(), 0.5);  // 5000 over 10000 requests/s
  // 2.0 s of CPU over 10000 requests (200 us) against 2.0 s over 20000 (100 us).
  EXPECT_DOUBLE_EQ(w["cpu_per_request"].get<double>(), 2.0);
  EXPECT_NEAR(w["cpu_per_request_without_generator"].get<double>(), (1.9 / 10'000) / (1.8 / 20'000), 1e-5);
  const auto& p = j["points"][2];
  EXPECT_DOUBLE_EQ(p["iops"].get<double>(), 5000);
  EXPECT_DOUBLE_EQ(p["mb_per_s"].get<double>(), 5000 * 4096 / 1e6);
  EXPECT_DOUBLE_EQ(p["cpu_us_per_request"].get<double>(), 200);
}

TEST(BlockBenchReport, AFailedPointGivesNoFigureAndNoRatio) {
  auto r = results();
  r.points[3].error = "read data does not match what was written";
  auto j = nlohmann::json::parse(block_bench_json(r));
  const auto& failed = j["points"][3];
  EXPECT_FALSE(failed["ok"].get<bool>());
  EXPECT_EQ(failed["error"], "read data does not match what was written");
  EXPECT_TRUE(failed["iops"].is_null());
  EXPECT_TRUE(failed["cpu_us_per_request"].is_null());
  EXPECT_TRUE(j["ratios"][1]["throughput"].is_null());
  EXPECT_TRUE(j["ratios"][1]["cpu_per_request"].is_null());
  EXPECT_TRUE(j["ratios"][0]["throughput"].is_number());
  const std::string md = block_bench_markdown(r, {});
  EXPECT_NE(md.find("| write | 32 | 4 KiB | 41.0 | 20.5 | 10000 | 5000 | 0.50 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| read | 32 | 4 KiB | 41.0 | n/a | 10000 | n/a | n/a |"), std::string::npos) << md;
  // CPU per request, isolated split into side, the domain and QEMU.
  EXPECT_NE(md.find("| write | 32 | 4 KiB | 100.0 | 200.0 (80.0 + 60.0 + 60.0) | 2.00 | 2.11 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("- process read 4 KiB depth 32: read data does not match"), std::string::npos) << md;
}

}  // namespace
}  // namespace side::cli
