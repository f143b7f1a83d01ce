#include "common/log.h"

#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace side {
namespace {

std::mutex& log_mutex() {
  static std::mutex m;
  return m;
}
LogSink& current_sink() {
  static LogSink sink;
  return sink;
}
LogLevel g_threshold = LogLevel::kInfo;

}  // namespace

LogSink set_log_sink(LogSink sink) {
  std::lock_guard lock(log_mutex());
  LogSink old = std::move(current_sink());
  current_sink() = std::move(sink);
  return old;
}

void set_log_threshold(LogLevel most_verbose) {
  g_threshold = most_verbose;
}

void log_line(LogLevel level, std::string_view line) {
  if (static_cast<int>(level) > static_cast<int>(g_threshold)) return;
  std::lock_guard lock(log_mutex());
  if (current_sink()) {
    current_sink()(level, line);
    return;
  }
  std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
}

void logf(LogLevel level, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  log_line(level, std::string_view(buf, static_cast<size_t>(n) < sizeof buf ? n : sizeof buf - 1));
}

}  // namespace side
