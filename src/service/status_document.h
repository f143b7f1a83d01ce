// The answer of a control socket to "status": one JSON object for the side process and each domain it runs.
//   {"side_pid": 1234, "state": "running", "uptime_s": 12.5,
//    "domains": [{"driver": "e1000", "module": "e1000", "isolation": "process", "device": "8086:100e 0000:00:03.0",
//                 "netdev": "eth0", "interface": "side0", "domain_pid": 1240, "state": "running",
//                 "generation": 0, "restarts": 0, "faults": 0, "last_fault": "",
//                 "to_driver": {"frames": 10, "bytes": 980}, "from_driver": {"frames": 9, "bytes": 900},
//                 "dropped": {"oversize": 0, "stalled": 0}, "wire": {"out": 10, "in": 9, "nic_dropped": 0},
//                 "up_s": 11.9}]}
// "state" is "starting" until a driver is up, then "running", then "stopping"; a domain's state is a
// supervisor::SessionState name. "restarts" equals "generation" (each restart is a new generation).
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "session/session_status.h"

namespace side::service {

struct DomainEntry {
  session::SessionStatus status;
  double up_s = 0;  // since the driver first came up
};

nlohmann::json domain_json(const DomainEntry& entry);
nlohmann::json status_document(pid_t side_pid, const std::string& state, double uptime_s,
                               const std::vector<DomainEntry>& domains);

// A document as one line; text that is not UTF-8 (it should all be sanitized already) is replaced, never thrown on.
std::string one_line(const nlohmann::json& document);

}  // namespace side::service
