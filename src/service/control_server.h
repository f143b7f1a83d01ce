// The control socket of a running side: a Unix stream socket where each client sends one request line and gets
// one answer line (a JSON document), then the connection is closed.
// It faces any process of the same user (the socket is 0600 in a private directory, runtime_dir.h), so it is
// trusted code with untrusted input: a request is at most kMaxRequest bytes, a client has kClientTimeout for the
// whole exchange, clients are served one at a time on the service thread, and nothing waits on the supervisor.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "service/unix_socket.h"

namespace side::service {

class ControlServer {
 public:
  static constexpr size_t kMaxRequest = 64;
  static constexpr std::chrono::milliseconds kClientTimeout{1000};
  static constexpr int kBacklog = 16;  // connections waiting beyond this are refused at once (EAGAIN)

  // The answer to one request (without its newline).
  using Answer = std::function<std::string(std::string_view request)>;

  // Listens at `path` (any stale socket there is replaced).
  static Result<ControlServer> listen(const std::string& path);
  ControlServer(ControlServer&&) = default;
  ControlServer& operator=(ControlServer&&) = delete;
  ~ControlServer();  // removes the socket file

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // Accepts one waiting client, if any, and answers it (at most kClientTimeout). The caller polls fd() and calls
  // this once per wake-up, so that it can do other work between clients.
  void serve_one(const Answer& answer);

 private:
  ControlServer(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  void serve(int client, const Answer& answer);
  Fd fd_;
  std::string path_;
};

}  // namespace side::service
