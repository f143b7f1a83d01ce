#include "supervisor/domain_log.h"

#include <algorithm>

#include "common/sanitize.h"

namespace side::supervisor {
namespace {

// The domain's level (a kernel log level, 0 = emergency) on side's scale, which starts at errors.
LogLevel level_of(uint64_t level) {
  return static_cast<LogLevel>(
      std::clamp<uint64_t>(level, static_cast<uint64_t>(LogLevel::kError), static_cast<uint64_t>(LogLevel::kDebug)));
}

}  // namespace

DomainLog::DomainLog(std::string label) {
  set_label(label);
}

void DomainLog::set_label(const std::string& label) {
  prefix_ = "[" + sanitize_text(label, 64) + "] ";
  spare_prefix_ = "[" + sanitize_text(label, 64) + ", spare] ";
}

void DomainLog::hold() {
  held_ = true;
}

void DomainLog::release() {
  if (!held_) return;
  held_ = false;
  for (const auto& [level, text] : kept_) log_line(level, spare_prefix_ + text);
  kept_.clear();
  if (suppressed_) {
    log_line(LogLevel::kWarning,
             spare_prefix_ + "(side: " + std::to_string(suppressed_) + " lines of this domain suppressed)");
    suppressed_ = 0;
  }
}

void DomainLog::line(uint64_t level, std::span<const uint8_t> text, uint64_t now_ns) {
  if (held_) {
    if (kept_.size() < static_cast<size_t>(kBurst)) {
      kept_.emplace_back(level_of(level), sanitize_text(text, kMaxLine));
    } else {
      ++suppressed_;
      ++suppressed_total_;
    }
    return;
  }
  if (!bucket_.take(now_ns)) {
    ++suppressed_;
    ++suppressed_total_;
    return;
  }
  flush();
  log_line(level_of(level), prefix_ + sanitize_text(text, kMaxLine));
}

void DomainLog::flush() {
  if (suppressed_ == 0 || held_) return;
  log_line(LogLevel::kWarning, prefix_ + "(side: " + std::to_string(suppressed_) + " lines of this domain suppressed)");
  suppressed_ = 0;
}

}  // namespace side::supervisor
