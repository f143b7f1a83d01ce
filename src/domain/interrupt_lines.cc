#include "domain/interrupt_lines.h"

namespace side::domain {

bool InterruptLines::raise(uint32_t irq) {
  if (irq >= kLines) return false;
  pending_.fetch_or(uint64_t{1} << irq);
  return true;
}

void InterruptLines::set_attached(uint32_t irq, bool attached) {
  if (irq >= kLines) return;
  if (attached)
    attached_.fetch_or(uint64_t{1} << irq);
  else
    attached_.fetch_and(~(uint64_t{1} << irq));
}

std::optional<std::string> InterruptLines::storm(uint64_t now_ns) {
  if (now_ns - window_start_ns_ > 1'000'000'000) {
    window_start_ns_ = now_ns;
    window_unclaimed_ = window_delivered_ = 0;
    return std::nullopt;
  }
  if (window_unclaimed_ > kStormUnclaimed) {
    return std::to_string(window_unclaimed_) + " interrupts within a second that no handler claimed";
  }
  if (window_delivered_ > kStormRate) {
    return std::to_string(window_delivered_) + " interrupts within a second, over the domain's limit";
  }
  return std::nullopt;
}

}  // namespace side::domain
