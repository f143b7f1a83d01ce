// What every session (NIC, disk) starts the same way: the driver's domain, in this process or in a sandboxed
// domain process (recovering or not), and the machine it is connected to.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "domain/domain.h"
#include "supervisor/machine.h"
#include "supervisor/recoverable_domain.h"

namespace side::session {

struct SessionDomainConfig {
  std::string isolation = "process";  // "process", "inproc" or "sfi" (inproc with the sfi checks, src/sfi)
  // inproc: the driver's control thread (virtual CPU 0) is a thread of its own, so that any thread may make control
  // operations (a disk's worker submits requests), as with a domain process; otherwise the calling thread is.
  bool inproc_control_thread = false;
  domain::DomainConfig domain;
  domain::LoadRequest load{""};  // the module every generation of a recovering domain loads
  bool recover = true;
  supervisor::RecoveryPolicy policy;
  std::string executable = "/proc/self/exe";
};

// Members in the order they must outlive each other: the domain outlives the machine it is connected to.
struct SessionDomain {
  std::unique_ptr<supervisor::DriverDomain> domain;
  supervisor::RecoverableDomain* recoverable = nullptr;  // `domain`, when it recovers
  std::unique_ptr<supervisor::Machine> machine;
};

// Starts the domain and connects a fresh machine to it; an error says what failed.
Result<SessionDomain> start_session_domain(const SessionDomainConfig& config);

// "8086:100e 0000:00:03.0": a device as reports name it.
std::string pci_name(const side_pci_device_info& info);

}  // namespace side::session
