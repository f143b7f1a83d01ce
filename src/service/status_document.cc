#include "service/status_document.h"

namespace side::service {

nlohmann::json domain_json(const DomainEntry& entry) {
  const auto& s = entry.status;
  return {
      {"driver", s.driver},
      {"module", s.module},
      {"isolation", s.isolation},
      {"device", s.device},
      {"netdev", s.netdev},
      {"ifname", s.ifname},
      {"domain_pid", s.domain_pid},
      {"state", session::session_state_name(s.state)},
      {"generation", s.generation},
      {"restarts", s.generation},
      {"faults", s.faults},
      {"last_fault", s.last_fault},
      {"to_driver", {{"frames", s.host.to_driver}, {"bytes", s.host.bytes_to_driver}}},
      {"from_driver", {{"frames", s.host.from_driver}, {"bytes", s.host.bytes_from_driver}}},
      {"dropped", {{"oversize", s.host.dropped_oversize}, {"stalled", s.host.dropped_stalled}}},
      {"wire", {{"out", s.wire.to_wire}, {"in", s.wire.from_wire}, {"nic_dropped", s.wire.nic_dropped}}},
      {"up_s", entry.up_s},
  };
}

nlohmann::json status_document(pid_t side_pid, const std::string& state, double uptime_s,
                               const std::vector<DomainEntry>& domains) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& d : domains) list.push_back(domain_json(d));
  return {{"side_pid", side_pid}, {"state", state}, {"uptime_s", uptime_s}, {"domains", std::move(list)}};
}

std::string one_line(const nlohmann::json& document) {
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace side::service
