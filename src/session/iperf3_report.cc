#include "session/iperf3_report.h"

#include <nlohmann/json.hpp>

namespace side::session {

Result<Iperf3Report> parse_iperf3_report(const std::string& text) {
  try {
    auto j = nlohmann::json::parse(text);
    // A run that failed still prints a document, with iperf3's reason in it.
    if (j.contains("error")) return make_error("iperf3: " + j.at("error").get<std::string>());
    const auto& end = j.at("end");
    Iperf3Report r;
    r.sender_gbps = end.at("sum_sent").at("bits_per_second").get<double>() / 1e9;
    r.receiver_gbps = end.at("sum_received").at("bits_per_second").get<double>() / 1e9;
    r.retransmits = end.at("sum_sent").value("retransmits", uint64_t{0});
    r.host_cpu_percent = end.at("cpu_utilization_percent").at("host_total").get<double>();
    return r;
  } catch (const std::exception& e) {
    return make_error(std::string("cannot read iperf3's report: ") + e.what());
  }
}

}  // namespace side::session
