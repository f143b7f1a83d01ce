// One vfio-user connection: a connected UNIX stream socket to a device server, over which the client sends
// commands (with file descriptors as SCM_RIGHTS) and reads their replies. Every exchange is bounded by a timeout on
// the client's clock, whatever the server does (never answers, answers half a message, closes, floods); the first
// failure breaks the connection for good and names why, so a dead or misbehaving server is a fault the caller
// reports, never a hang. Headers are checked by the codec (codec.h); bodies by the caller's decode_*.
//
// Thread-safe: one exchange at a time (a mutex), as the protocol's ordering needs no more.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "devices/vfio_user/protocol.h"

namespace side::vfio_user {

class Connection {
 public:
  // `socket` is a connected stream socket; it is made non-blocking.
  Connection(Fd socket, std::chrono::milliseconds timeout);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends `command` with `body` (and `fds`, at most kMaxSendFds) and waits for its reply: the reply's body. A reply
  // with the error bit is an error that leaves the connection usable; anything else that goes wrong breaks it.
  Result<std::vector<uint8_t>> call(Command command, std::span<const uint8_t> body, std::span<const int> fds = {});
  // Sends `command` with no_reply: the server answers nothing, not even an error. Only the send is bounded.
  Status post(Command command, std::span<const uint8_t> body);

  // The caller found the reply's body invalid: the server is not to be trusted further.
  void fail(const std::string& why);
  bool broken() const;
  std::string broken_reason() const;  // empty while not broken

  std::chrono::milliseconds timeout() const { return timeout_; }
  uint64_t exchanges() const;  // commands sent, replied or posted

 private:
  using Deadline = std::chrono::steady_clock::time_point;
  Status send_locked(uint16_t id, Command command, uint32_t flags, std::span<const uint8_t> body,
                     std::span<const int> fds, Deadline deadline);
  Status receive_exact_locked(uint8_t* out, size_t len, Deadline deadline);
  Status wait_locked(short events, Deadline deadline);
  Error break_locked(std::string why);

  Fd socket_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  uint16_t next_id_ = 0;
  uint64_t exchanges_ = 0;
  std::string broken_;
};

}  // namespace side::vfio_user
