// Unix stream sockets with every wait bounded: the control socket's server and `side status` use them to exchange
// one request and one answer. Nothing here blocks past its deadline, whatever the other end does.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/fd.h"
#include "common/result.h"

namespace side::service {

using Deadline = std::chrono::steady_clock::time_point;

using Fd = side::Fd;  // common/fd.h

// A sockaddr_un can hold a path this long (without its terminating zero).
constexpr size_t kMaxSocketPath = 107;

// A listening socket bound at `path` (any file there is replaced), mode 0600, non-blocking, close-on-exec.
Result<Fd> listen_unix(const std::string& path, int backlog);
// A connection to the socket at `path`, close-on-exec and non-blocking.
Result<Fd> connect_unix(const std::string& path);

// Reads until `terminator`, end of file, `limit` bytes or the deadline, whichever comes first. What arrived
// (without the terminator) or an error naming the reason ("timed out", "too long").
Result<std::string> read_bounded(int fd, char terminator, size_t limit, Deadline deadline);
// Writes all of `data` before the deadline, or fails.
Status write_bounded(int fd, std::string_view data, Deadline deadline);

}  // namespace side::service
