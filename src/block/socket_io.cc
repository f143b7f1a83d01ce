#include "block/socket_io.h"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common/clock.h"

namespace side::block {

namespace {

// Waits for `events` on `fd`: 0 when ready, ETIMEDOUT, or EPIPE when the socket was shut down or broke.
int wait_ready(int fd, short events, int timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;  // a signal: wait again (bounded by the caller's own loop count)
    if (n < 0) return errno;
    if (n == 0) return ETIMEDOUT;
    if ((p.revents & events) == 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return EPIPE;
    return 0;
  }
}

}  // namespace

int read_full(int fd, void* buf, size_t len, int first_ms, int rest_ms) {
  auto* p = static_cast<uint8_t*>(buf);
  size_t got = 0;
  uint64_t deadline = 0;  // set once the first byte is in
  while (got < len) {
    int wait = first_ms;
    if (got) {
      const uint64_t now = monotonic_ns();
      if (now >= deadline) return ETIMEDOUT;
      wait = static_cast<int>((deadline - now + 999'999) / 1'000'000);
    }
    if (int err = wait_ready(fd, POLLIN, wait)) return err;
    const ssize_t n = ::recv(fd, p + got, len - got, MSG_DONTWAIT);
    if (n == 0) return EPIPE;
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return errno;
    if (got == 0) deadline = monotonic_ns() + uint64_t(rest_ms) * 1'000'000;
    got += static_cast<size_t>(n);
  }
  return 0;
}

int skip_full(int fd, uint64_t len, int progress_ms) {
  std::vector<uint8_t> sink(std::min<uint64_t>(len, 1u << 20));
  while (len) {
    const size_t n = std::min<uint64_t>(len, sink.size());
    if (int err = read_full(fd, sink.data(), n, progress_ms, progress_ms)) return err;
    len -= n;
  }
  return 0;
}

int write_full(int fd, iovec* iov, int count, int progress_ms) {
  while (count > 0) {
    if (iov->iov_len == 0) {
      ++iov, --count;
      continue;
    }
    if (int err = wait_ready(fd, POLLOUT, progress_ms)) return err;
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return errno;
    // Consume what went out, buffer by buffer.
    while (n > 0 && count > 0) {
      const size_t take = std::min<size_t>(static_cast<size_t>(n), iov->iov_len);
      iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + take;
      iov->iov_len -= take;
      n -= static_cast<ssize_t>(take);
      if (iov->iov_len == 0) ++iov, --count;
    }
  }
  return 0;
}

}  // namespace side::block
