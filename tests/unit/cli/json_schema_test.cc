// Every command's --json output, from the real binary, is one document valid against its schema in docs/schemas
// (checked by scripts/check-json.py with python3-jsonschema): a "schema" member naming it, numbers as numbers, a
// figure not measured as null.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/qemu.h"
#include "support/shell.h"

namespace {

using side::test_support::run_shell;

class JsonSchema : public ::testing::Test {
 protected:
  void SetUp() override {
    int status = -1;
    run_shell("python3 -c 'import jsonschema' 2>/dev/null", &status);
    if (status != 0) GTEST_SKIP() << "python3-jsonschema is not installed (scripts/setup.sh installs it)";
  }

  // `side ARGS` (its stdout) checked against docs/schemas/SCHEMA.schema.json; returns the document.
  std::string expect_valid(const std::string& schema, const std::string& args, int expected_status = 0) {
    int status = -1;
    const std::string document = run_shell(
        side::test_support::in_own_network_namespace(std::string(SIDE_BINARY) + " " + args + " 2>/dev/null"), &status);
    EXPECT_EQ(status, expected_status) << args << "\n" << document;
    const std::string file =
        (std::filesystem::temp_directory_path() / ("side-json-" + std::to_string(getpid()) + "-" + schema + ".json"))
            .string();
    std::ofstream(file) << document;
    const std::string check = std::string("python3 ") + SIDE_SOURCE_DIR + "/scripts/check-json.py " + SIDE_SOURCE_DIR +
                              "/docs/schemas/" + schema + ".schema.json " + file + " 2>&1";
    const std::string problems = run_shell(check, &status);
    EXPECT_EQ(status, 0) << "side " << args << " does not match " << schema << ".schema.json:\n"
                         << problems << document;
    std::filesystem::remove(file);
    EXPECT_NE(document.find("\"schema\":\"side-" + schema + "/1\""), std::string::npos) << document;
    return document;
  }
};

TEST_F(JsonSchema, RunWithTraffic) {
  expect_valid("run", "run e1000 --isolation inproc --packets 200 --json --quiet");
}

TEST_F(JsonSchema, RunOfSeveralInstances) {
  expect_valid("run", "run e1000 --instances 2 --packets 100 --json --quiet");
}

TEST_F(JsonSchema, RunLoadOnly) {
  expect_valid("run", "run e1000 --load-only --json --quiet");
  expect_valid("run", "run e1000 --load-only --isolation inproc --json --quiet");
}

TEST_F(JsonSchema, RunThatCouldNotStart) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for TAP interfaces";
  expect_valid("run", "run e1000 --ifname lo --duration 1 --json --quiet", 1);
}

TEST_F(JsonSchema, Inject) {
  const std::string doc = expect_valid("inject", "inject e1000 --faults 2 --types crash,lostirq --json --quiet");
  EXPECT_EQ(doc.find("18446744073709551"), std::string::npos) << doc;
}

TEST_F(JsonSchema, Bench) {
  expect_valid("bench", "bench --quick --sections latency,recovery --exchanges 200 --recoveries 2 --json --quiet");
}

// side bench --class block, a short real run: every point (2 sizes, 2 depths, read and write, in-process and
// isolated) measured with verified reads, every ratio a figure, the document valid. Skipped, saying so, only when
// QEMU with the vfio-user server is not built.
TEST_F(JsonSchema, BlockBench) {
  const std::string qemu = side::test_support::built_qemu(SIDE_BUILD_QEMU);
  if (qemu.empty()) GTEST_SKIP() << "QEMU with the vfio-user server is not built: run scripts/build-qemu.sh";
  setenv("SIDE_QEMU", qemu.c_str(), 1);
  const auto started = std::chrono::steady_clock::now();
  const std::string text = expect_valid("bench", "bench --class block --quick --window 0.1 --json --quiet");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  unsetenv("SIDE_QEMU");
  auto j = nlohmann::json::parse(text, nullptr, false);
  ASSERT_TRUE(j.is_object()) << text;
  EXPECT_EQ(j["class"], "block");
  ASSERT_EQ(j["points"].size(), 16u) << text;
  for (const auto& p : j["points"]) {
    EXPECT_TRUE(p["ok"].get<bool>()) << p.dump();
    EXPECT_GT(p["requests"].get<uint64_t>(), 0u) << p.dump();
    EXPECT_GT(p["cpu_us_per_request"].get<double>(), 0) << p.dump();
    if (p["op"] == "read") {
      EXPECT_EQ(p["blocks_verified"].get<uint64_t>(), p["bytes"].get<uint64_t>() / 512) << p.dump();
    }
    EXPECT_EQ(p["cpu_domain_s"].get<double>() > 0, p["isolation"] == "process") << p.dump();
  }
  ASSERT_EQ(j["ratios"].size(), 8u);
  for (const auto& r : j["ratios"]) {
    EXPECT_TRUE(r["throughput"].is_number()) << r.dump();
    EXPECT_TRUE(r["cpu_per_request"].is_number()) << r.dump();
  }
  std::printf("side bench --class block --quick --window 0.1: %.1f s\n", seconds);
}

TEST_F(JsonSchema, Conformance) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for TAP interfaces";
  const std::string doc =
      expect_valid("conformance", "conformance --drivers e1000@builtin --json --quiet --tcp-seconds 1");
  EXPECT_NE(doc.find("\"module\":\"e1000\""), std::string::npos) << doc;
}

TEST_F(JsonSchema, StatusWithNoSideRunning) {
  // A runtime directory of our own: no side answers there, and the document says so.
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("side-status-" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  setenv("SIDE_RUNTIME_DIR", dir.c_str(), 1);
  expect_valid("status", "status --json", 1);
  unsetenv("SIDE_RUNTIME_DIR");
  std::filesystem::remove_all(dir);
}

TEST_F(JsonSchema, Devices) {
  const std::string doc = expect_valid("devices", "devices --json");
  EXPECT_NE(doc.find("\"name\":\"e1000\""), std::string::npos) << doc;
}

}  // namespace
