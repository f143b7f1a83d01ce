#include "domain/domain_clock.h"

#include <ctime>

#include "common/clock.h"

namespace side::domain {

uint64_t DomainClock::now_ns() const {
  return monotonic_ns() + static_cast<uint64_t>(skew_ns_.load());
}

void DomainClock::delay_ns(uint64_t ns) {
  if (virtual_time_) {
    skew_ns_ += static_cast<int64_t>(ns);
    return;
  }
  if (ns < 50'000) {  // shorter than a sleep's own latency: spin
    const uint64_t until = monotonic_ns() + ns;
    while (monotonic_ns() < until) {
    }
    return;
  }
  timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  nanosleep(&ts, nullptr);
}

}  // namespace side::domain
