// The progress of a long command (side inject, side bench, side run with built-in traffic) as one line on the
// terminal, redrawn in place: "side inject: 12/100 (12%), 0:34 elapsed, about 4:09 left: fault 13: lostirq".
// Only when standard error is a terminal and --quiet was not given: a pipe, a file or a journal never sees it.
// Log lines printed while it shows (side's log, through its sink) erase it first, and it is redrawn below them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "common/log.h"

namespace side::cli {

class ProgressLine {
 public:
  // `command` prefixes the line ("side inject"). Disabled, it does nothing at all.
  ProgressLine(std::string command, bool enabled);
  // Erases the line and gives the log its sink back (finish()).
  ~ProgressLine() { finish(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Whether a progress line belongs on this standard error: a terminal (not TERM=dumb), and not --quiet.
  static bool wanted(bool quiet);
  bool enabled() const { return enabled_; }

  // `done` of `total` steps finished; `step` is what runs now. Any thread.
  void update(uint64_t done, uint64_t total, const std::string& step);
  // The work is over: the line is erased for good, before the command prints its results. Idempotent.
  void finish();
  // A line of the command's own (on stderr, newline added) above the progress line, which is redrawn under it.
  void print(const std::string& line);

  // The text of the line, without terminal controls, cut to `width` columns (tests use it directly).
  static std::string format(const std::string& command, uint64_t done, uint64_t total, double elapsed_s,
                            const std::string& step, size_t width);

 private:
  void draw_locked();
  void erase_locked();
  void tick();

  std::string command_;
  bool enabled_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, shown_ = false;
  uint64_t done_ = 0, total_ = 0;
  std::string step_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  LogSink previous_sink_;
  std::thread ticker_;  // redraws every second, so that the elapsed time moves during a long step
};

}  // namespace side::cli
