// What iperf3 -J reports of a TCP run, read once for `side bench` and `side conformance`.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"

namespace side::session {

struct Iperf3Report {
  double sender_gbps = 0, receiver_gbps = 0;
  uint64_t retransmits = 0;
  double host_cpu_percent = 0;  // iperf3's own figure for the client's host
};

// Parses the JSON document `iperf3 -c ... -J` printed; an error says what is missing (or iperf3's own "error").
Result<Iperf3Report> parse_iperf3_report(const std::string& json);

}  // namespace side::session
