#include "session/session_domain.h"

#include <cstdio>

#include "supervisor/domain_process.h"

namespace side::session {
namespace {

using supervisor::DomainProcess;
using supervisor::DomainProcessConfig;
using supervisor::DriverDomain;
using supervisor::RecoverableDomain;

Result<std::unique_ptr<DriverDomain>> start_domain_process(const SessionDomainConfig& config,
                                                           RecoverableDomain** recoverable) {
  DomainProcessConfig pc;
  pc.kapi_path = config.domain.kapi_path;
  pc.symvers_path = config.domain.symvers_path;
  pc.modules_dir = config.domain.modules_dir;
  pc.arena_bytes = config.domain.arena_bytes;
  pc.virtual_time = config.domain.virtual_time;
  pc.optimisations = config.domain.optimisations;
  pc.executable = config.executable;
  auto start_one = [pc, request = config.load](unsigned generation) -> Result<std::unique_ptr<DriverDomain>> {
    DomainProcessConfig spare = pc;
    spare.log_held = generation > 0;  // every later generation is a spare until it takes over
    auto p = DomainProcess::start(spare, request);
    if (!p) return p.error();
    return std::unique_ptr<DriverDomain>(std::move(*p));
  };
  if (!config.recover) return start_one(0);
  auto d = RecoverableDomain::start(start_one, config.policy);
  if (!d) return d.error();
  *recoverable = d->get();
  return std::unique_ptr<DriverDomain>(std::move(*d));
}

// sfi: in side's own process, restarted after a fault: each generation a fresh in-process sfi domain (on a control
// thread of its own, as recovery makes it from its monitor thread), the old one released first.
Result<std::unique_ptr<DriverDomain>> start_sfi_domain(const SessionDomainConfig& config,
                                                       RecoverableDomain** recoverable) {
  domain::DomainConfig dc = config.domain;
  dc.sfi = true;
  auto start_one = [dc, request = config.load](unsigned) -> Result<std::unique_ptr<DriverDomain>> {
    auto d = supervisor::InProcessDomain::create(dc, true);
    if (!d) return d.error();
    if (auto m = (*d)->load(request); !m) return m.error();
    return std::unique_ptr<DriverDomain>(std::move(*d));
  };
  supervisor::RecoveryPolicy policy = config.policy;
  policy.spares = false;
  auto d = RecoverableDomain::start(start_one, policy);
  if (!d) return d.error();
  *recoverable = d->get();
  return std::unique_ptr<DriverDomain>(std::move(*d));
}

}  // namespace

Result<SessionDomain> start_session_domain(const SessionDomainConfig& config) {
  SessionDomain out;
  if (config.isolation == "sfi" && config.recover && !config.load.module.empty()) {
    auto d = start_sfi_domain(config, &out.recoverable);
    if (!d) return make_error("cannot create a driver domain: " + d.error().message);
    out.domain = std::move(*d);
  } else if (config.isolation == "inproc" || config.isolation == "sfi") {
    domain::DomainConfig dc = config.domain;
    dc.sfi = config.isolation == "sfi";
    auto d = supervisor::InProcessDomain::create(dc, config.inproc_control_thread);
    if (!d) return make_error("cannot create a driver domain: " + d.error().message);
    out.domain = std::move(*d);
  } else if (config.isolation == "process") {
    auto d = start_domain_process(config, &out.recoverable);
    if (!d) return make_error("cannot start the domain process: " + d.error().message);
    out.domain = std::move(*d);
  } else {
    return make_error("unknown isolation '" + config.isolation + "'");
  }
  out.machine = std::make_unique<supervisor::Machine>(*out.domain);
  if (out.recoverable) out.recoverable->set_machine(out.machine.get());
  out.domain->connect(out.machine.get());
  return out;
}

std::string pci_name(const side_pci_device_info& info) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04x:%04x 0000:%02x:%02x.%x", info.vendor_id, info.device_id, info.bus,
                info.devfn >> 3, info.devfn & 7);
  return buf;
}

}  // namespace side::session
