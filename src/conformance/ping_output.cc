#include "conformance/ping_output.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace side::conformance {

std::optional<double> PingOutput::median_ms() const {
  if (rtt_ms.empty()) return std::nullopt;
  std::vector<double> sorted = rtt_ms;
  std::sort(sorted.begin(), sorted.end());
  return sorted[(sorted.size() + 1) / 2 - 1];
}

PingOutput parse_ping_output(const std::string& text) {
  PingOutput out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (const size_t t = line.find(" time="); t != std::string::npos && line.find("bytes from") != std::string::npos) {
      char* end = nullptr;
      const double ms = std::strtod(line.c_str() + t + 6, &end);
      if (end != line.c_str() + t + 6 && ms >= 0) out.rtt_ms.push_back(ms);
    } else if (line.find(" packets transmitted, ") != std::string::npos) {
      unsigned long long sent = 0, received = 0;
      if (std::sscanf(line.c_str(), "%llu packets transmitted, %llu", &sent, &received) == 2) {
        out.transmitted = sent;
        out.received = received;
        out.summary = true;
      }
    }
  }
  return out;
}

}  // namespace side::conformance
