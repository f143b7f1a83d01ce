// What `side run` prints of each session it ran: text, or the fields of one JSON object.
#pragma once

#include <string>
#include <vector>

#include "cli/json.h"
#include "session/nic_session.h"

namespace side::cli {

// One session's report: fields of an open JSON object when `json` is set, else text on stdout. A session that
// failed before its driver came up is one line on stderr (and its error in the JSON).
// The restarts of a session, as the "recoveries" array of side-run/1 (NIC and disk sessions alike).
void json_recoveries(Json& j, const std::vector<supervisor::RecoveryTimings>& recoveries);

void print_run_report(const session::NicSessionConfig& config, const session::NicSessionReport& r,
                      const std::string& isolation, Json* json);

}  // namespace side::cli
