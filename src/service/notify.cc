#include "service/notify.h"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <cstring>

#include "common/log.h"

namespace side::service {
namespace {

// A STATUS= value is one line: the assignments are newline-separated.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

void notify(const std::string& assignments) {
  // One datagram (nothing, returning 0, without NOTIFY_SOCKET). It may wait while the manager's queue is full, so
  // it is called on the service thread (service_endpoint.h), never on the session's.
  if (int r = sd_notify(0, assignments.c_str()); r < 0) {
    logf(LogLevel::kWarning, "side: cannot notify the service manager: %s", std::strerror(-r));
  }
}

}  // namespace

bool service_manager_listening() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket && *socket;
}

void notify_ready(const std::string& status) {
  notify("READY=1\nSTATUS=" + one_line(status));
}

void notify_status(const std::string& status) {
  notify("STATUS=" + one_line(status));
}

void notify_stopping(const std::string& status) {
  notify("STOPPING=1\nSTATUS=" + one_line(status));
}

}  // namespace side::service
