// The log of one driver domain as side prints it. Every line is sanitized (common/sanitize.h: no control or
// bidirectional character, no newline that would start a line of its own), put behind a prefix built here from
// what the supervisor knows ("[8139too dom 1234] "), which the driver's text follows and so can never replace, and
// rate-limited: a burst, then a steady rate. Lines held back are counted and reported in one line when printing
// resumes, or when the log is flushed (the domain ended).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/token_bucket.h"

namespace side::supervisor {

class DomainLog {
 public:
  static constexpr double kBurst = 200;
  static constexpr double kLinesPerSecond = 50;
  static constexpr size_t kMaxLine = 512;  // bytes of the driver's text kept per line, after sanitizing

  // `label` names the domain, e.g. "8139too dom 1234".
  explicit DomainLog(std::string label = "domain");
  ~DomainLog() { flush(); }
  DomainLog(const DomainLog&) = delete;
  DomainLog& operator=(const DomainLog&) = delete;

  void set_label(const std::string& label);
  // One line from the domain: `level` is the domain's (any value), `text` its bytes. `now_ns` is a monotonic clock.
  void line(uint64_t level, std::span<const uint8_t> text, uint64_t now_ns);
  // Reports lines held back since the last line printed, if any.
  void flush();
  // A spare domain's log (started ahead of need, its driver loaded and initialised) is kept, not printed: its
  // driver's banner and warnings would repeat the running domain's. release() prints what was kept, each line
  // marked as the spare's, once the spare takes over; a spare never used is never heard (its lines are dropped
  // with it). At most kBurst lines are kept; the rest are counted.
  void hold();
  void release();
  uint64_t suppressed_total() const { return suppressed_total_; }

 private:
  std::string prefix_, spare_prefix_;
  bool held_ = false;
  std::vector<std::pair<LogLevel, std::string>> kept_;  // sanitized texts while held
  TokenBucket bucket_{kLinesPerSecond, kBurst};
  uint64_t suppressed_ = 0, suppressed_total_ = 0;
};

}  // namespace side::supervisor
