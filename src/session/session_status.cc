#include "session/session_status.h"

#include "session/nic_session.h"
#include "supervisor/recoverable_domain.h"

namespace side::session {
using host::HostInterface;
using host::Wire;
using supervisor::DriverDomain;
using supervisor::RecoverableDomain;

const char* session_state_name(SessionState state) {
  switch (state) {
    case SessionState::kRunning:
      return "running";
    case SessionState::kRecovering:
      return "recovering";
    case SessionState::kFailed:
      return "failed";
    case SessionState::kStopping:
      return "stopping";
  }
  return "unknown";
}

SessionStatus observe_session(const NicSessionConfig& config, const NicSessionReport& report,
                              const DriverDomain& domain, const RecoverableDomain* recoverable,
                              const HostInterface* host, const Wire* wire, SessionState requested) {
  SessionStatus s;
  s.module = config.module;
  s.driver = report.driver;
  s.isolation = config.isolation;
  s.device = report.device;
  s.netdev = report.netdev;
  s.ifname = config.network.ifname;
  s.state = requested;
  if (domain.faulty()) {
    s.state = SessionState::kFailed;
  } else if (requested == SessionState::kRunning && recoverable && recoverable->recovering()) {
    s.state = SessionState::kRecovering;
  }
  s.domain_pid = domain.pid();
  s.generation = domain.generation();
  const auto faults = domain.faults();
  s.faults = faults.size();
  if (!faults.empty()) s.last_fault = faults.back().kind_name + ": " + faults.back().message;
  if (recoverable) {
    if (const auto all = recoverable->recoveries(); !all.empty()) {
      const auto& r = all.back();
      s.last_recovery = SessionStatus::LastRecovery{r.ok,      r.detect_ms, r.total_ms,       r.probe_ms,
                                                    r.open_ms, r.link_ms,   r.first_frame_ms, r.flowing_ms};
    }
  }
  if (host) s.host = host->counters();
  if (wire) s.wire = wire->counters();
  return s;
}

}  // namespace side::session
