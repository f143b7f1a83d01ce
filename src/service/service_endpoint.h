// side run's face to a service manager and to `side status`, beside a network session:
//   - the readiness protocol (notify.h): READY=1 when the driver is first up, STATUS= when its state or generation
//     changes, STOPPING=1 when it starts stopping;
//   - the control socket (control_server.h) in runtime_dir(), answering "status" with status_document.h's
//     document, removed when this goes.
// The session hands over snapshots (on_status, NicSessionConfig::on_status) on its own thread and only takes a
// lock to do so; notifying and serving clients happen on the service thread, so that neither a service manager
// nor a client can hold up the session or the driver's data path.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "service/control_server.h"
#include "service/runtime_dir.h"
#include "service/status_document.h"
#include "service/unix_socket.h"
#include "session/session_status.h"

namespace side::service {

class ServiceEndpoint {
 public:
  // Listens in `dir` (runtime_dir() by default). Without a control socket (a warning says why) side still runs and
  // notifies: a status socket is no reason to keep a driver down.
  static std::unique_ptr<ServiceEndpoint> start(const std::string& dir = runtime_dir());
  ~ServiceEndpoint();  // sends what is pending, stops the thread, removes the socket
  ServiceEndpoint(const ServiceEndpoint&) = delete;
  ServiceEndpoint& operator=(const ServiceEndpoint&) = delete;

  // A session's snapshot (on the session's thread).
  void on_status(const session::SessionStatus& status);
  // The answer to one control request.
  std::string answer(std::string_view request) const;
  // Empty without a control socket.
  std::string socket_path() const { return server_ ? server_->path() : ""; }

 private:
  struct Domain {
    session::SessionStatus status;
    std::chrono::steady_clock::time_point up_since;
  };
  enum class Notice { kReady, kStatus, kStopping };

  ServiceEndpoint() = default;
  void loop();
  void send_pending();
  void wake();
  static std::string describe(const session::SessionStatus& s);

  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::optional<ControlServer> server_;
  Fd wake_;  // an eventfd: notifications are pending, or it is time to stop
  std::thread thread_;
  std::atomic<bool> stop_{false};

  mutable std::mutex mu_;                  // everything below
  std::map<std::string, Domain> domains_;  // by host interface
  std::vector<std::pair<Notice, std::string>> pending_;
  bool ready_sent_ = false, stopping_sent_ = false;
};

}  // namespace side::service
