// What a running NIC session shows of itself while it runs (`side status`, systemd's STATUS= line): a plain
// snapshot that the session takes on its own thread and hands to whoever listens (NicSessionConfig::on_status), so
// that a reader never touches the domain, the machine or the host interface.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "host/host_network.h"

namespace side::supervisor {
class RecoverableDomain;
}

namespace side::session {

struct NicSessionConfig;
struct NicSessionReport;

enum class SessionState {
  kRunning,     // the driver is up: link, host interface addressed
  kRecovering,  // a restart is in progress (recoverable_domain.h)
  kFailed,      // recovery gave up on the driver; the session is ending
  kStopping,    // asked to stop (SIGINT/SIGTERM, or the host command ended): closing and removing the driver
};

const char* session_state_name(SessionState state);

struct SessionStatus {
  std::string module;     // as named on the command line, e.g. "e1000"
  std::string driver;     // the PCI driver that bound the device
  std::string isolation;  // "process" or "inproc"
  std::string device;     // "8086:100e 0000:00:03.0"
  std::string netdev;     // the driver's name for it, e.g. "eth0"
  std::string ifname;     // the host interface, e.g. "side0"
  SessionState state = SessionState::kRunning;
  int domain_pid = 0;       // the current generation's process
  unsigned generation = 0;  // restarts so far
  uint64_t faults = 0;      // detected driver faults, every generation's
  std::string last_fault;   // "kind: message" of the latest, empty without one
  // The latest restart's breakdown (RecoveryTimings, ms; negative: not measured); present after one restart.
  struct LastRecovery {
    bool ok = false;
    double detect_ms = -1, total_ms = 0, probe_ms = 0, open_ms = 0, link_ms = -1, first_frame_ms = -1;
    double flowing_ms = -1;
  };
  std::optional<LastRecovery> last_recovery;
  host::HostCounters host{};
  host::WireCounters wire{};
  // A disk's session: its traffic is requests, not frames (`host` and `wire` stay zero).
  bool disk = false;
  struct DiskTraffic {
    uint64_t writes = 0, bytes_written = 0, reads = 0, bytes_read = 0, errors = 0;
  } disk_traffic{};
};

// The snapshot of a session whose driver is up; `requested` is kRunning or kStopping, and becomes kRecovering or
// kFailed when the domain says so. Runs on the session's thread (the calls it makes take the domain's locks).
SessionStatus observe_session(const NicSessionConfig& config, const NicSessionReport& report,
                              const supervisor::DriverDomain& domain, const supervisor::RecoverableDomain* recoverable,
                              const host::HostInterface* host, const host::Wire* wire, SessionState requested);

}  // namespace side::session
