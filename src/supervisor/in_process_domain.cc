#include <unistd.h>

#include <optional>

#include "domain/control_server.h"
#include "supervisor/driver_domain.h"

namespace side::supervisor {

Result<std::unique_ptr<InProcessDomain>> InProcessDomain::create(const domain::DomainConfig& config,
                                                                 bool own_control_thread) {
  std::unique_ptr<ControlThread> control;
  if (own_control_thread) control = std::make_unique<ControlThread>();
  // The thread that creates the domain becomes its virtual CPU 0.
  std::unique_ptr<domain::Domain> made;
  std::optional<Error> error;
  auto create = [&] {
    auto d = domain::Domain::create(config);
    if (d) {
      made = std::move(*d);
    } else {
      error = d.error();
    }
  };
  if (control) {
    control->run(create);
  } else {
    create();
  }
  if (error) return *error;
  return std::unique_ptr<InProcessDomain>(new InProcessDomain(std::move(made), std::move(control), config.sfi));
}

// Its virtual CPU 0 leaves the domain where it entered it.
InProcessDomain::~InProcessDomain() {
  on_control([this] { destroy_domain(); });
}

// On the control thread. kill() may be reading d_ from another thread meanwhile (a fault campaign kills the domain
// recovery is replacing): d_ is emptied under d_mu_, and the domain destroyed after.
void InProcessDomain::destroy_domain() {
  std::unique_ptr<domain::Domain> gone;
  std::lock_guard lock(d_mu_);
  gone = std::move(d_);
}

Status InProcessDomain::kill() {
  if (!sfi_) return make_error("an in-process domain cannot be killed without killing side");
  // As a dead process would be: faulty (recovery replaces it), and no more driver code runs.
  {
    std::lock_guard lock(d_mu_);
    if (d_) d_->record_fault(SIDE_FAULT_DOMAIN_DIED, "the sfi domain was stopped", 0);
  }
  shutdown();
  return {};
}

// Callers check live() first; recovery releases only once the devices are quiesced and the domain marked as being
// replaced, so no call is still on its way in. Everything the domain held (its regions, arena, rights, stacks,
// threads) goes with it, on its virtual CPU 0.
void InProcessDomain::release() {
  if (released_.exchange(true)) return;
  last_faults_ = d_->faults();
  on_control([this] { destroy_domain(); });
}

void InProcessDomain::on_control(const std::function<void()>& job) {
  if (control_) {
    control_->run(job);
  } else {
    job();
  }
}

int InProcessDomain::pid() const {
  return static_cast<int>(getpid());
}

Result<std::string> InProcessDomain::load(const domain::LoadRequest& request) {
  if (!live()) return make_error("the domain was released");
  Result<std::string> out = make_error("not run");
  on_control([&] {
    auto m = d_->load(request);
    out = m ? Result<std::string>((*m)->name) : Result<std::string>(m.error());
  });
  return out;
}

// The in-process transport: the request is served on virtual CPU 0 (this thread, or the control thread), by the
// code a domain process runs for it.
Result<ipc::ControlAnswer> InProcessDomain::transact(const ipc::ControlRequest& request) {
  if (!live()) return make_error("the domain was released");
  Result<ipc::ControlAnswer> out = make_error("not run");
  on_control([&] { out = domain::serve_control(*d_, request.head, request.payload); });
  return out;
}

// The job checks d_ again: a release() between live() and the job's turn on the control thread destroyed it.
void InProcessDomain::shutdown() {
  if (live()) {
    on_control([this] {
      if (d_) d_->shutdown();
    });
  }
}

}  // namespace side::supervisor
