#include <unistd.h>

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

}  // namespace side::supervisor
