#include "service/unix_socket.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace side::service {
namespace {

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

Result<sockaddr_un> unix_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() > kMaxSocketPath) {
    return make_error("socket path '" + path + "' is empty or longer than " + std::to_string(kMaxSocketPath));
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

// Waits for `events` on fd until the deadline: true when they came, false on timeout or error.
bool wait_for(int fd, short events, Deadline deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

Result<Fd> listen_unix(const std::string& path, int backlog) {
  auto addr = unix_address(path);
  if (!addr) return addr.error();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return make_error(errno_text("socket"));
  ::unlink(path.c_str());  // a socket left by a process that had this pid before (it was killed)
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    return make_error(errno_text("bind " + path));
  }
  // Only the owner may connect; set before listen(), so nobody else ever could (a socket that is bound but not
  // listening refuses connections). chmod, not umask: umask is the whole process's, and threads may be running.
  if (::chmod(path.c_str(), 0600) != 0 || ::listen(fd.get(), backlog) != 0) {
    const std::string why = errno_text("listen " + path);
    ::unlink(path.c_str());
    return make_error(why);
  }
  return fd;
}

Result<Fd> connect_unix(const std::string& path) {
  auto addr = unix_address(path);
  if (!addr) return addr.error();
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return make_error(errno_text("socket"));
  // A Unix socket connects at once or fails at once (EAGAIN: its backlog is full).
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    return make_error(errno_text("connect"));
  }
  return fd;
}

Result<std::string> read_bounded(int fd, char terminator, size_t limit, Deadline deadline) {
  std::string data;
  char buf[512];
  for (;;) {
    if (!wait_for(fd, POLLIN, deadline)) return make_error("timed out");
    const size_t want = std::min(sizeof buf, limit + 1 - data.size());
    ssize_t n = ::read(fd, buf, want);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return make_error(errno_text("read"));
    if (n == 0) return data;
    data.append(buf, static_cast<size_t>(n));
    if (auto end = data.find(terminator); end != std::string::npos) return data.substr(0, end);
    if (data.size() > limit) return make_error("too long (more than " + std::to_string(limit) + " bytes)");
  }
}

Status write_bounded(int fd, std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return make_error(errno_text("write"));
    if (!wait_for(fd, POLLOUT, deadline)) return make_error("timed out");
  }
  return {};
}

}  // namespace side::service
