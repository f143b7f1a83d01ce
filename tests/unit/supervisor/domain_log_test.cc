// The domain's log as side prints it: sanitized, behind a prefix the driver cannot forge, rate-limited.
#include "supervisor/domain_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace side::supervisor {
namespace {

constexpr uint64_t kSecond = 1'000'000'000;

class DomainLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = set_log_sink([this](LogLevel, std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override { set_log_sink(std::move(previous_)); }
  static std::span<const uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }

  std::vector<std::string> lines_;
  LogSink previous_;
};

TEST_F(DomainLogTest, EveryLineCarriesTheSupervisorsPrefixAndNoControlCharacter) {
  DomainLog log("e1000 dom 1234");
  log.line(6, bytes("e1000 0000:00:03.0: eth0: NIC Link is Up"), kSecond);
  log.line(3,
           bytes("\x1b]0;pwned\x07\x1b[2J\xc2\x9b"
                 "31m\xe2\x80\xae"),
           kSecond);
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0], "[e1000 dom 1234] e1000 0000:00:03.0: eth0: NIC Link is Up");
  EXPECT_EQ(lines_[1], "[e1000 dom 1234] \\x1b]0;pwned\\x07\\x1b[2J\\u009b31m\\u202e");
}

TEST_F(DomainLogTest, AForgedSideLineStaysInsideTheDomainsLine) {
  DomainLog log("e1000 dom 1234");
  log.line(6, bytes("side: fake\nside: driver fault (none): all is well\r[e1000 dom 1] x"), kSecond);
  log.line(6, bytes("side: the supervisor says this"), kSecond);
  ASSERT_EQ(lines_.size(), 2u);
  for (const auto& l : lines_) {
    EXPECT_EQ(l.rfind("[e1000 dom 1234] ", 0), 0u) << l;  // the prefix comes first, always
    EXPECT_EQ(l.find_first_of("\r\n"), std::string::npos) << l;
  }
  EXPECT_EQ(lines_[0], "[e1000 dom 1234] side: fake\\x0aside: driver fault (none): all is well\\x0d[e1000 dom 1] x");
}

TEST_F(DomainLogTest, AFloodIsBoundedAndSummarised) {
  DomainLog log("e1000 dom 7");
  const std::string line(300, 'A');
  for (int i = 0; i < 100'000; ++i) log.line(6, bytes(line), kSecond + i);  // 100k lines in 0.1 ms
  EXPECT_EQ(lines_.size(), static_cast<size_t>(DomainLog::kBurst));
  size_t bytes_out = 0;
  for (const auto& l : lines_) bytes_out += l.size();
  EXPECT_LE(bytes_out, DomainLog::kBurst * (DomainLog::kMaxLine + 32));
  EXPECT_EQ(log.suppressed_total(), 100'000u - static_cast<uint64_t>(DomainLog::kBurst));
  // A second later printing resumes, after one line that says how much was held back.
  lines_.clear();
  log.line(6, bytes("back"), 2 * kSecond);
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0], "[e1000 dom 7] (side: 99800 lines of this domain suppressed)");
  EXPECT_EQ(lines_[1], "[e1000 dom 7] back");
}

TEST_F(DomainLogTest, WhatIsHeldBackAtTheEndIsReported) {
  {
    DomainLog log("e1000 dom 8");
    for (int i = 0; i < 1000; ++i) log.line(6, bytes("x"), kSecond);
  }
  ASSERT_FALSE(lines_.empty());
  EXPECT_EQ(lines_.back(), "[e1000 dom 8] (side: 800 lines of this domain suppressed)");
}

TEST_F(DomainLogTest, ALongLineIsCut) {
  DomainLog log("d");
  log.line(6, bytes(std::string(100'000, 'x')), kSecond);
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_LE(lines_[0].size(), DomainLog::kMaxLine + 4);
  EXPECT_EQ(lines_[0].substr(lines_[0].size() - 3), "...");
}

// A spare domain loads and initialises its driver ahead of need: its banner and warnings (an unknown parameter,
// say) repeated the running driver's. They are heard only if the spare takes over, marked as the spare's.
TEST_F(DomainLogTest, ASparesLogIsHeardOnlyWhenItTakesOverAndMarkedAsItsOwn) {
  {
    DomainLog unused("e1000 dom 7");
    unused.hold();
    unused.line(6, bytes("e1000: Intel(R) PRO/1000 Network Driver"), kSecond);
  }
  EXPECT_TRUE(lines_.empty()) << lines_.front();

  DomainLog spare("e1000 dom 8");
  spare.hold();
  spare.line(6, bytes("e1000: Intel(R) PRO/1000 Network Driver"), kSecond);
  spare.line(4, bytes("e1000: unknown parameter 'foo' ignored"), kSecond);
  EXPECT_TRUE(lines_.empty());
  spare.release();
  spare.line(6, bytes("e1000 0000:00:03.0: eth0: NIC Link is Up"), 2 * kSecond);
  ASSERT_EQ(lines_.size(), 3u);
  EXPECT_EQ(lines_[0], "[e1000 dom 8, spare] e1000: Intel(R) PRO/1000 Network Driver");
  EXPECT_EQ(lines_[1], "[e1000 dom 8, spare] e1000: unknown parameter 'foo' ignored");
  EXPECT_EQ(lines_[2], "[e1000 dom 8] e1000 0000:00:03.0: eth0: NIC Link is Up");
}

TEST_F(DomainLogTest, AHeldLogKeepsABurstAndCountsTheRest) {
  DomainLog spare("e1000 dom 9");
  spare.hold();
  const size_t total = static_cast<size_t>(DomainLog::kBurst) + 25;
  for (size_t i = 0; i < total; ++i) spare.line(6, bytes("line " + std::to_string(i)), kSecond);
  EXPECT_TRUE(lines_.empty());
  spare.release();
  ASSERT_EQ(lines_.size(), static_cast<size_t>(DomainLog::kBurst) + 1);
  EXPECT_EQ(lines_.back(), "[e1000 dom 9, spare] (side: 25 lines of this domain suppressed)");
}

}  // namespace
}  // namespace side::supervisor
