// The one clock side measures time with: CLOCK_MONOTONIC in nanoseconds (steady, unaffected by the wall clock,
// and the clock futex timeouts and a domain's jiffies are based on).
#pragma once

#include <time.h>

#include <cstdint>

namespace side {

inline uint64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

}  // namespace side
