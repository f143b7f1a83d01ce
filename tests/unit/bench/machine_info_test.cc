// What a benchmark report says of the machine it ran on: the figures this machine itself reports.
#include "bench/machine_info.h"

#include <gtest/gtest.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <regex>

namespace side::bench {
namespace {

TEST(MachineInfo, IsTheMachineItRunsOn) {
  const MachineInfo m = describe_machine();
  EXPECT_EQ(m.cpus, static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN)));
  const uint64_t memory = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  // MemTotal or the page count: within one percent of each other.
  EXPECT_NEAR(static_cast<double>(m.memory_bytes), static_cast<double>(memory), memory / 100.0);
  utsname u{};
  ASSERT_EQ(uname(&u), 0);
  EXPECT_EQ(m.kernel, std::string(u.release) + " " + u.machine);
  EXPECT_FALSE(m.cpu_model.empty());
  EXPECT_FALSE(m.os.empty());
  EXPECT_FALSE(m.compiler.empty());
  EXPECT_TRUE(std::regex_match(m.date_utc, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)"))) << m.date_utc;
}

}  // namespace
}  // namespace side::bench
