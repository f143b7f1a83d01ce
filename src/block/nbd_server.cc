#include "block/nbd_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "block/nbd_connection.h"
#include "block/nbd_protocol.h"

namespace side::block {

Result<std::unique_ptr<NbdServer>> NbdServer::start(BlockDevice& device, const NbdServerOptions& options) {
  if (options.unix_path.empty() && !options.tcp_port) return make_error("nbd: neither a socket path nor a port");
  if (options.export_name.size() > nbd::kMaxNameLength) return make_error("nbd: export name too long");
  std::unique_ptr<NbdServer> s(new NbdServer(device, options));
  s->wake_ = Fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!s->wake_) return make_error(std::string("nbd: eventfd: ") + std::strerror(errno));
  if (!options.unix_path.empty()) SIDE_TRY(s->listen_unix());
  if (options.tcp_port) SIDE_TRY(s->listen_tcp(*options.tcp_port));
  s->acceptor_ = std::thread([srv = s.get()] { srv->accept_loop(); });
  return s;
}

NbdServer::NbdServer(BlockDevice& device, const NbdServerOptions& options) : device_(device), options_(options) {}

NbdServer::~NbdServer() {
  stop();
}

Status NbdServer::listen_unix() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options_.unix_path.size() >= sizeof addr.sun_path) return make_error("nbd: socket path too long");
  std::memcpy(addr.sun_path, options_.unix_path.data(), options_.unix_path.size());
  // A socket left by a side that was killed is replaced; any other file at that path is not touched.
  struct stat st {};
  if (::lstat(options_.unix_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return make_error("nbd: " + options_.unix_path + " exists and is not a socket");
    ::unlink(options_.unix_path.c_str());
  }
  unix_listener_ = Fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!unix_listener_ || ::bind(unix_listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(unix_listener_.get(), 16) != 0)
    return make_error("nbd: cannot listen on " + options_.unix_path + ": " + std::strerror(errno));
  return {};
}

Status NbdServer::listen_tcp(uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // never reachable from another machine
  tcp_listener_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const int one = 1;
  if (!tcp_listener_ || ::setsockopt(tcp_listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::bind(tcp_listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(tcp_listener_.get(), 16) != 0)
    return make_error("nbd: cannot listen on 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  socklen_t len = sizeof addr;
  ::getsockname(tcp_listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  tcp_port_ = ntohs(addr.sin_port);
  return {};
}

void NbdServer::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    for (auto& c : clients_) c.connection->stop();
  }
  const uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) < 0) {
    // An eventfd write fails only when the counter would overflow: the acceptor is awake already.
  }
  if (acceptor_.joinable()) acceptor_.join();
  reap(true);
  if (!options_.unix_path.empty() && unix_listener_) ::unlink(options_.unix_path.c_str());
}

// Waits for a listener or the wake-up from stop(); nothing else blocks this thread.
void NbdServer::accept_loop() {
  for (;;) {
    pollfd p[3] = {{wake_.get(), POLLIN, 0}, {unix_listener_.get(), POLLIN, 0}, {tcp_listener_.get(), POLLIN, 0}};
    if (::poll(p, 3, -1) < 0 && errno != EINTR) return;
    if (p[0].revents) return;
    reap(false);
    if (p[1].revents & POLLIN) accept_one(unix_listener_.get());
    if (p[2].revents & POLLIN) accept_one(tcp_listener_.get());
  }
}

void NbdServer::accept_one(int listener) {
  Fd sock(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!sock) return;
  const int one = 1;
  ::setsockopt(sock.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // fails harmlessly on a Unix socket
  std::lock_guard lock(mu_);
  if (stopped_ || clients_.size() >= options_.max_clients) {
    counters_->refused++;
    return;  // closed at once: the client sees the connection end before any greeting
  }
  counters_->accepted++;
  const auto e = nbd::make_export(options_.export_name, options_.description, device_.geometry());
  auto conn = std::make_shared<NbdConnection>(std::move(sock), device_, e, options_.limits, counters_);
  auto finished = std::make_shared<std::atomic<bool>>(false);
  std::thread t([conn, finished] {
    conn->run();
    finished->store(true);
  });
  clients_.push_back(Client{std::move(conn), std::move(t), std::move(finished)});
}

// Joins the threads of connections that ended (all of them when stopping, each bounded by its own waits).
void NbdServer::reap(bool all) {
  std::vector<Client> done;
  {
    std::lock_guard lock(mu_);
    for (auto it = clients_.begin(); it != clients_.end();) {
      if (all || it->finished->load()) {
        done.push_back(std::move(*it));
        it = clients_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : done) c.thread.join();
}

}  // namespace side::block
