// side's log. Lines from a driver domain arrive already prefixed kernel-style ("e1000 0000:00:03.0: ...");
// side's own lines are prefixed "side: ". A test can capture the log with a sink.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace side {

enum class LogLevel { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

using LogSink = std::function<void(LogLevel, std::string_view line)>;

// Replaces the sink (default: stderr). Returns the previous one.
LogSink set_log_sink(LogSink sink);
void set_log_threshold(LogLevel most_verbose);

void log_line(LogLevel level, std::string_view line);
void logf(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace side
