#include <unistd.h>

#include "domain/control_server.h"
#include "supervisor/driver_domain.h"

namespace side::supervisor {

Result<std::unique_ptr<InProcessDomain>> InProcessDomain::create(const domain::DomainConfig& config) {
  auto d = domain::Domain::create(config);
  if (!d) return d.error();
  return std::unique_ptr<InProcessDomain>(new InProcessDomain(std::move(*d)));
}

int InProcessDomain::pid() const {
  return static_cast<int>(getpid());
}

Result<std::string> InProcessDomain::load(const domain::LoadRequest& request) {
  auto m = d_->load(request);
  if (!m) return m.error();
  return (*m)->name;
}

// The in-process transport: the request is served on this thread (virtual CPU 0 of an unisolated domain), by the
// code a domain process runs for it.
Result<ipc::ControlAnswer> InProcessDomain::transact(const ipc::ControlRequest& request) {
  return domain::serve_control(*d_, request.head, request.payload);
}

}  // namespace side::supervisor
