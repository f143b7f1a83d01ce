#include "devices/vfio_user/connection.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "devices/vfio_user/codec.h"

namespace side::vfio_user {
namespace {

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60'000));
}

// Closes every descriptor a received control message carried; true if there was any (or it was truncated).
bool drop_received_fds(msghdr& msg) {
  bool any = (msg.msg_flags & MSG_CTRUNC) != 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      ::close(fd);
    }
    any = true;
  }
  return any;
}

}  // namespace

Connection::Connection(Fd socket, std::chrono::milliseconds timeout) : socket_(std::move(socket)), timeout_(timeout) {
  if (socket_) {
    int flags = fcntl(socket_.get(), F_GETFL);
    if (flags >= 0) fcntl(socket_.get(), F_SETFL, flags | O_NONBLOCK);
  } else {
    broken_ = "no connection";
  }
}

Result<std::vector<uint8_t>> Connection::call(Command command, std::span<const uint8_t> body,
                                              std::span<const int> fds) {
  std::lock_guard lock(mu_);
  if (!broken_.empty()) return make_error(broken_);
  const Deadline deadline = Clock::now() + timeout_;
  const uint16_t id = next_id_++;
  ++exchanges_;
  SIDE_TRY(send_locked(id, command, kTypeCommand, body, fds, deadline));
  uint8_t raw[kHeaderSize];
  SIDE_TRY(receive_exact_locked(raw, sizeof raw, deadline));
  auto header = decode_header(raw);
  if (!header) return break_locked(header.error().message);
  std::vector<uint8_t> reply(header->size - kHeaderSize);
  SIDE_TRY(receive_exact_locked(reply.data(), reply.size(), deadline));
  if (auto s = check_reply(*header, id, command, static_cast<uint32_t>(reply.size())); !s) {
    // An error reply leaves the stream in step; any other mismatch means the server is not following the protocol.
    if ((header->flags & kFlagError) && header->id == id && header->command == static_cast<uint16_t>(command) &&
        reply.empty() && (header->flags & kFlagTypeMask) == kTypeReply && !(header->flags & kFlagNoReply)) {
      return s.error();
    }
    return break_locked(s.error().message);
  }
  return reply;
}

Status Connection::post(Command command, std::span<const uint8_t> body) {
  std::lock_guard lock(mu_);
  if (!broken_.empty()) return make_error(broken_);
  ++exchanges_;
  return send_locked(next_id_++, command, kTypeCommand | kFlagNoReply, body, {}, Clock::now() + timeout_);
}

Status Connection::send_locked(uint16_t id, Command command, uint32_t flags, std::span<const uint8_t> body,
                               std::span<const int> fds, Deadline deadline) {
  if (fds.size() > kMaxSendFds) return make_error("too many descriptors for one vfio-user message");
  if (body.size() > kMaxMessageSize - kHeaderSize) return make_error("vfio-user message too large");
  const Header h{id, static_cast<uint16_t>(command), static_cast<uint32_t>(kHeaderSize + body.size()), flags, 0};
  const auto head = encode_header(h);
  size_t sent = 0;
  const size_t total = kHeaderSize + body.size();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxSendFds)] = {};
  while (sent < total) {
    iovec iov[2];
    int n = 0;
    if (sent < kHeaderSize) iov[n++] = {const_cast<uint8_t*>(head.data()) + sent, kHeaderSize - sent};
    const size_t body_done = sent > kHeaderSize ? sent - kHeaderSize : 0;
    if (body.size() > body_done) iov[n++] = {const_cast<uint8_t*>(body.data()) + body_done, body.size() - body_done};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    if (sent == 0 && !fds.empty()) {  // descriptors travel with the message's first byte
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    const ssize_t r = sendmsg(socket_.get(), &msg, MSG_NOSIGNAL);
    if (r > 0) {
      sent += static_cast<size_t>(r);
    } else if (r < 0 && errno == EINTR) {
      continue;
    } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      SIDE_TRY(wait_locked(POLLOUT, deadline));
    } else {
      return break_locked(std::string("vfio-user server connection lost while sending ") + to_string(command) + ": " +
                          std::strerror(r < 0 ? errno : EPIPE));
    }
  }
  return {};
}

Status Connection::receive_exact_locked(uint8_t* out, size_t len, Deadline deadline) {
  size_t got = 0;
  while (got < len) {
    iovec iov{out + got, len - got};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t r = recvmsg(socket_.get(), &msg, MSG_CMSG_CLOEXEC);
    if (r > 0 && drop_received_fds(msg)) return break_locked("vfio-user server sent file descriptors in a reply");
    if (r > 0) {
      got += static_cast<size_t>(r);
    } else if (r == 0) {
      return break_locked(got ? "vfio-user server closed the connection in the middle of a message"
                              : "vfio-user server closed the connection");
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      SIDE_TRY(wait_locked(POLLIN, deadline));
    } else {
      return break_locked(std::string("vfio-user server connection failed: ") + std::strerror(errno));
    }
  }
  return {};
}

Status Connection::wait_locked(short events, Deadline deadline) {
  for (;;) {
    const int left = remaining_ms(deadline);
    if (left == 0) {
      return break_locked("vfio-user server did not answer within " + std::to_string(timeout_.count()) + " ms");
    }
    pollfd p{socket_.get(), events, 0};
    const int r = poll(&p, 1, left);
    if (r > 0) return {};  // readable, writable, or hung up: the next call says which
    if (r < 0 && errno != EINTR) return break_locked(std::string("poll: ") + std::strerror(errno));
  }
}

Error Connection::break_locked(std::string why) {
  if (broken_.empty()) broken_ = std::move(why);
  return make_error(broken_);
}

void Connection::fail(const std::string& why) {
  std::lock_guard lock(mu_);
  (void)break_locked(why);
}

bool Connection::broken() const {
  std::lock_guard lock(mu_);
  return !broken_.empty();
}

std::string Connection::broken_reason() const {
  std::lock_guard lock(mu_);
  return broken_;
}

uint64_t Connection::exchanges() const {
  std::lock_guard lock(mu_);
  return exchanges_;
}

}  // namespace side::vfio_user
