// Differences of counters read at two moments. Side's figures are often "after minus before"; computed on
// uint64_t, a counter that went down (frames declared lost, then delivered late; a restarted domain's counters
// starting again from zero; a number a hostile domain published) would print as 18446744073709551488. Every such
// subtraction goes through one of these two, which say which kind of counter it is.
#pragma once

#include <cstdint>
#include <limits>

namespace side {

// The signed change of a counter that may move both ways, saturated to the int64_t range.
constexpr int64_t counter_change(uint64_t before, uint64_t after) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (after >= before) {
    const uint64_t up = after - before;
    return up > kMax ? std::numeric_limits<int64_t>::max() : static_cast<int64_t>(up);
  }
  const uint64_t down = before - after;
  return down > kMax ? std::numeric_limits<int64_t>::min() : -static_cast<int64_t>(down);
}

// How much a counter that only grows has grown: 0, not a wrapped-around figure, if it was reset or went down
// meanwhile (the reading before the reset belongs to another life of what it counts).
constexpr uint64_t counter_growth(uint64_t before, uint64_t after) {
  return after >= before ? after - before : 0;
}

}  // namespace side
