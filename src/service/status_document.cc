#include "service/status_document.h"

namespace side::service {

namespace {

// A NIC's traffic in frames, a disk's in requests (what was written goes to the driver, what was read comes from it).
void traffic_json(const session::SessionStatus& s, nlohmann::json& j) {
  if (s.disk) {
    const auto& d = s.disk_traffic;
    j["class"] = "disk";
    j["to_driver"] = {{"requests", d.writes}, {"bytes", d.bytes_written}};
    j["from_driver"] = {{"requests", d.reads}, {"bytes", d.bytes_read}};
    j["request_errors"] = d.errors;
    return;
  }
  j["class"] = "nic";
  j["to_driver"] = {{"frames", s.host.to_driver}, {"bytes", s.host.bytes_to_driver}};
  j["from_driver"] = {{"frames", s.host.from_driver}, {"bytes", s.host.bytes_from_driver}};
  j["dropped"] = {
      {"oversize", s.host.dropped_oversize}, {"stalled", s.host.dropped_stalled}, {"offload", s.host.dropped_offload}};
  j["wire"] = {{"out", s.wire.to_wire}, {"in", s.wire.from_wire}, {"nic_dropped", s.wire.nic_dropped}};
}

}  // namespace

nlohmann::json domain_json(const DomainEntry& entry) {
  const auto& s = entry.status;
  nlohmann::json j = {
      {"driver", s.driver},         {"module", s.module},
      {"isolation", s.isolation},   {"device", s.device},
      {"netdev", s.netdev},         {"ifname", s.ifname},
      {"domain_pid", s.domain_pid}, {"state", session::session_state_name(s.state)},
      {"generation", s.generation}, {"restarts", s.generation},
      {"faults", s.faults},         {"last_fault", s.last_fault},
      {"up_s", entry.up_s},
  };
  traffic_json(s, j);
  if (const auto& r = s.last_recovery) {
    // Figures not measured (yet: link and first frame come after the restart) are null.
    auto ms = [](double v) { return v >= 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
    j["last_recovery"] = {{"ok", r->ok},
                          {"detect_ms", ms(r->detect_ms)},
                          {"total_ms", ms(r->total_ms)},
                          {"probe_ms", ms(r->probe_ms)},
                          {"open_ms", ms(r->open_ms)},
                          {"link_ms", ms(r->link_ms)},
                          {"first_frame_ms", ms(r->first_frame_ms)},
                          {"flowing_ms", ms(r->flowing_ms)}};
  }
  return j;
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
