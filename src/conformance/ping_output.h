// What ping(8) (iputils) printed: the replies' round-trip times and its summary counts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace side::conformance {

struct PingOutput {
  uint64_t transmitted = 0, received = 0;
  std::vector<double> rtt_ms;  // each reply's "time=", in the order printed
  bool summary = false;        // the "N packets transmitted, M received" line was there
  // Nearest-rank median (the smallest time with at least half the replies at or below it: a measured time).
  std::optional<double> median_ms() const;
};

PingOutput parse_ping_output(const std::string& text);

}  // namespace side::conformance
