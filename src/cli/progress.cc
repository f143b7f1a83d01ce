#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/sanitize.h"

namespace side::cli {
namespace {

constexpr const char* kEraseLine = "\r\033[K";

std::string minutes_seconds(double s) {
  const auto total = static_cast<unsigned long long>(s < 0 ? 0 : s + 0.5);
  char buf[32];
  if (total >= 3600) {
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%llu:%02llu", total / 60, total % 60);
  }
  return buf;
}

// Columns of the terminal on standard error; a long line would wrap and could no longer be redrawn in place.
size_t terminal_width() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 80;
}

}  // namespace

bool ProgressLine::wanted(bool quiet) {
  if (quiet || !isatty(STDERR_FILENO)) return false;
  const char* term = std::getenv("TERM");
  return !(term && std::strcmp(term, "dumb") == 0);
}

std::string ProgressLine::format(const std::string& command, uint64_t done, uint64_t total, double elapsed_s,
                                 const std::string& step, size_t width) {
  std::string line = command + ": " + std::to_string(done) + "/" + std::to_string(total);
  if (total > 0) line += " (" + std::to_string(done * 100 / total) + "%)";
  line += ", " + minutes_seconds(elapsed_s) + " elapsed";
  // The estimate assumes the steps left take as long as the ones done did; none before the first is done.
  if (done > 0 && done < total) {
    const double left = elapsed_s / static_cast<double>(done) * static_cast<double>(total - done);
    line += ", about " + minutes_seconds(left) + " left";
  }
  if (!step.empty()) line += ": " + sanitize_text(step, 200);
  if (width > 1 && line.size() > width - 1) line.resize(width - 1);  // the cursor's column stays free
  return line;
}

ProgressLine::ProgressLine(std::string command, bool enabled)
    : command_(std::move(command)), enabled_(enabled), start_(std::chrono::steady_clock::now()) {
  if (!enabled_) return;
  // The sink runs under the log's lock, which set_log_sink takes too: previous_sink_ is written before ours is
  // installed (lines in between go to stderr directly, as the default sink does).
  previous_sink_ = set_log_sink(nullptr);
  set_log_sink([this](LogLevel level, std::string_view text) {
    std::lock_guard lock(mu_);
    erase_locked();
    if (previous_sink_) {
      previous_sink_(level, text);
    } else {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
    }
    if (!stop_) draw_locked();
  });
  ticker_ = std::thread([this] { tick(); });
}

void ProgressLine::finish() {
  {
    std::lock_guard lock(mu_);
    if (!enabled_ || stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  ticker_.join();
  LogSink previous = previous_sink_;  // a copy: a log line may be reading it until the sink is replaced
  set_log_sink(std::move(previous));
  std::lock_guard lock(mu_);
  erase_locked();
}

void ProgressLine::update(uint64_t done, uint64_t total, const std::string& step) {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  if (stop_) return;
  // Callers may report often (traffic ticks): the line is redrawn at most ten times a second, and on a new step.
  const bool news = step != step_ || total != total_;
  done_ = done;
  total_ = total;
  step_ = step;
  if (news || std::chrono::steady_clock::now() - last_draw_ >= std::chrono::milliseconds(100)) draw_locked();
}

void ProgressLine::print(const std::string& line) {
  std::lock_guard lock(mu_);
  erase_locked();
  std::fprintf(stderr, "%s\n", line.c_str());
  if (enabled_ && !stop_) draw_locked();
}

void ProgressLine::tick() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
    if (total_ > 0) draw_locked();
  }
}

void ProgressLine::draw_locked() {
  if (total_ == 0) return;  // nothing said yet
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string line = format(command_, done_, total_, elapsed, step_, terminal_width());
  std::fprintf(stderr, "%s%s", kEraseLine, line.c_str());
  std::fflush(stderr);
  shown_ = true;
  last_draw_ = std::chrono::steady_clock::now();
}

void ProgressLine::erase_locked() {
  if (!shown_) return;
  std::fputs(kEraseLine, stderr);
  std::fflush(stderr);
  shown_ = false;
}

}  // namespace side::cli
