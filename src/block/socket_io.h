// Whole-buffer reads and writes on a stream socket, each bounded in time: a client that stops sending in the
// middle of a message, or stops reading replies, is given up on rather than waited for. Sockets stay blocking;
// every call polls first and then moves what is there (MSG_DONTWAIT), so no call blocks past its bound.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

namespace side::block {

inline constexpr int kForever = -1;

// Reads exactly `len` bytes. The first byte may take `first_ms` (kForever: until data, the peer closing or
// shutdown() on the socket); the rest must all have arrived `rest_ms` after it (a whole message, not each piece:
// a client trickling a byte at a time cannot stretch it). Returns 0, or EPIPE (end of stream), ETIMEDOUT, or the
// socket's error.
int read_full(int fd, void* buf, size_t len, int first_ms, int rest_ms);

// Reads and throws away `len` bytes (the payload of a request the server refused), each MiB within `rest_ms`.
int skip_full(int fd, uint64_t len, int rest_ms);

// Writes every byte of the `count` buffers, each wait for progress at most `progress_ms`. `iov` is consumed.
int write_full(int fd, iovec* iov, int count, int progress_ms);

}  // namespace side::block
