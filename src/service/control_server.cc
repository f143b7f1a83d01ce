#include "service/control_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/log.h"

namespace side::service {

Result<ControlServer> ControlServer::listen(const std::string& path) {
  auto fd = listen_unix(path, kBacklog);
  if (!fd) return fd.error();
  return ControlServer(std::move(*fd), path);
}

ControlServer::~ControlServer() {
  if (fd_) ::unlink(path_.c_str());
}

void ControlServer::serve_one(const Answer& answer) {
  Fd client(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (client) serve(client.get(), answer);
}

// One exchange, bounded in size and time; a client that breaks the rules gets an error line, or nothing.
void ControlServer::serve(int client, const Answer& answer) {
  const Deadline deadline = std::chrono::steady_clock::now() + kClientTimeout;
  // The socket's mode already admits only this user (and root); the credentials say so once more.
  ucred peer{};
  socklen_t len = sizeof peer;
  if (::getsockopt(client, SOL_SOCKET, SO_PEERCRED, &peer, &len) != 0 || (peer.uid != ::geteuid() && peer.uid != 0)) {
    return;
  }
  auto request = read_bounded(client, '\n', kMaxRequest, deadline);
  std::string reply =
      request ? answer(*request) : nlohmann::json{{"error", "request " + request.error().message}}.dump();
  reply += '\n';
  if (auto s = write_bounded(client, reply, deadline); !s) {
    logf(LogLevel::kDebug, "side: control socket: a client did not take its answer: %s", s.error().message.c_str());
  }
}

}  // namespace side::service
