// The service manager's readiness protocol (systemd's sd_notify(3), Type=notify): side says when the driver is up
// (READY=1), what it is doing (STATUS=...), and that it is stopping (STOPPING=1). Without NOTIFY_SOCKET in the
// environment (not started by a service manager) every call does nothing.
#pragma once

#include <string>

namespace side::service {

// Whether a service manager is listening (NOTIFY_SOCKET is set).
bool service_manager_listening();

void notify_ready(const std::string& status);
void notify_status(const std::string& status);
void notify_stopping(const std::string& status);

}  // namespace side::service
