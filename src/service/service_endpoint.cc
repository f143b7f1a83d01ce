#include "service/service_endpoint.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "service/notify.h"

namespace side::service {
namespace {

using session::SessionState;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

bool ending(SessionState s) {
  return s == SessionState::kStopping || s == SessionState::kFailed;
}

}  // namespace

std::unique_ptr<ServiceEndpoint> ServiceEndpoint::start(const std::string& dir) {
  std::unique_ptr<ServiceEndpoint> e(new ServiceEndpoint());
  e->wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!e->wake_) {
    logf(LogLevel::kWarning, "side: no service thread (eventfd: %s): no status socket", std::strerror(errno));
    return e;
  }
  Status prepared = prepare_runtime_dir(dir);
  auto server =
      prepared ? ControlServer::listen(control_socket_path(dir, ::getpid())) : Result<ControlServer>(prepared.error());
  if (server) {
    e->server_.emplace(std::move(*server));
  } else {
    logf(LogLevel::kWarning, "side: no control socket, `side status` will not see this side: %s",
         server.error().message.c_str());
  }
  e->thread_ = std::thread([p = e.get()] { p->loop(); });
  return e;
}

ServiceEndpoint::~ServiceEndpoint() {
  stop_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
  send_pending();  // when there was no thread
}

void ServiceEndpoint::wake() {
  if (!wake_) return;
  const uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
}

std::string ServiceEndpoint::describe(const session::SessionStatus& s) {
  return s.driver + " on " + s.ifname + ": " + session::session_state_name(s.state) + ", domain pid " +
         std::to_string(s.domain_pid) + ", " + std::to_string(s.generation) + " restarts, " + std::to_string(s.faults) +
         " faults";
}

void ServiceEndpoint::on_status(const session::SessionStatus& status) {
  {
    std::lock_guard lock(mu_);
    auto [it, first] = domains_.try_emplace(status.ifname, Domain{status, std::chrono::steady_clock::now()});
    const session::SessionStatus previous = it->second.status;
    it->second.status = status;
    // Readiness once: the first driver up. Then a line whenever a driver's state or generation changes.
    if (!ready_sent_ && !ending(status.state)) {
      ready_sent_ = true;
      pending_.emplace_back(Notice::kReady, describe(status));
    } else if (ending(status.state) && !stopping_sent_) {
      stopping_sent_ = true;
      pending_.emplace_back(Notice::kStopping, describe(status));
    } else if (first || status.state != previous.state || status.generation != previous.generation) {
      pending_.emplace_back(Notice::kStatus, describe(status));
    } else {
      return;
    }
  }
  wake();
}

void ServiceEndpoint::send_pending() {
  std::vector<std::pair<Notice, std::string>> notices;
  {
    std::lock_guard lock(mu_);
    notices.swap(pending_);
  }
  for (const auto& [kind, text] : notices) {
    if (kind == Notice::kReady) notify_ready(text);
    if (kind == Notice::kStatus) notify_status(text);
    if (kind == Notice::kStopping) notify_stopping(text);
  }
}

std::string ServiceEndpoint::answer(std::string_view request) const {
  if (request != "status") return one_line({{"error", "unknown request (the one request is \"status\")"}});
  std::vector<DomainEntry> entries;
  std::string state = "starting";
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, d] : domains_) {
      entries.push_back({d.status, seconds_since(d.up_since)});
      if (state != "stopping") state = ending(d.status.state) ? "stopping" : "running";
    }
  }
  return one_line(status_document(::getpid(), state, seconds_since(started_), entries));
}

// The service thread: notifications first (they are what a service manager waits for), then one client at a time.
void ServiceEndpoint::loop() {
  for (;;) {
    pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {server_ ? server_->fd() : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) {
      logf(LogLevel::kWarning, "side: service thread: poll: %s", std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // bounded retry: poll failing is transient
    }
    uint64_t count;
    while (::read(wake_.get(), &count, sizeof count) > 0) {
    }
    send_pending();
    if (stop_.load()) return;
    if (server_ && (fds[1].revents & POLLIN)) {
      server_->serve_one([this](std::string_view request) { return answer(request); });
    }
  }
}

}  // namespace side::service
