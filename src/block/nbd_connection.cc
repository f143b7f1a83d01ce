#include "block/nbd_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "block/socket_io.h"
#include "block/split_io.h"
#include "common/clock.h"

namespace side::block {

using namespace std::chrono_literals;

NbdConnection::NbdConnection(Fd socket, BlockDevice& device, const nbd::Export& e, const NbdLimits& limits,
                             std::shared_ptr<NbdCounters> counters)
    : socket_(std::move(socket)), device_(device), export_(e), limits_(limits), counters_(std::move(counters)) {}

// The socket is closed only here, never in run(): stop() may shut it down from another thread at any moment, and
// must not hit a descriptor number reused meanwhile.
NbdConnection::~NbdConnection() = default;

void NbdConnection::stop() {
  ::shutdown(socket_.get(), SHUT_RDWR);
}

void NbdConnection::run() {
  if (negotiate()) transmit();
  ::shutdown(socket_.get(), SHUT_RDWR);
}

bool NbdConnection::send_bytes(const std::vector<uint8_t>& bytes) {
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  return write_full(socket_.get(), &iov, 1, limits_.step_ms) == 0;
}

// --- Negotiation

bool NbdConnection::negotiate() {
  std::vector<uint8_t> greeting;
  nbd::put_greeting(greeting);
  if (!send_bytes(greeting)) return false;
  uint8_t flags[nbd::kClientFlagsSize];
  if (read_full(socket_.get(), flags, sizeof flags, limits_.step_ms, limits_.step_ms)) return false;
  nbd::Negotiation n(export_);
  if (n.client_flags(nbd::decode_client_flags(flags)) == nbd::Next::kClose) {
    counters_->protocol_closes++;
    return false;
  }
  // Bounded: by the deadline, and Negotiation closes after kMaxOptions options.
  const uint64_t deadline = monotonic_ns() + uint64_t(limits_.negotiate_ms) * 1'000'000;
  for (;;) {
    if (!negotiate_option(n, deadline)) return false;
    if (entered_transmission_) return true;
  }
}

// One option: false when the connection ends (abort, error, malformed), entered_transmission_ set on GO.
bool NbdConnection::negotiate_option(nbd::Negotiation& n, uint64_t deadline_ns) {
  const uint64_t now = monotonic_ns();
  if (now >= deadline_ns) {
    counters_->protocol_closes++;
    return false;
  }
  const int left_ms = static_cast<int>(std::min<uint64_t>((deadline_ns - now) / 1'000'000 + 1, limits_.step_ms));
  uint8_t header[nbd::kOptionHeaderSize];
  if (read_full(socket_.get(), header, sizeof header, left_ms, left_ms)) return false;
  const nbd::OptionHeader h = nbd::decode_option_header(header);
  if (n.option_header(h) == nbd::Next::kClose) {
    counters_->protocol_closes++;
    return false;
  }
  std::vector<uint8_t> data(h.length);
  if (h.length && read_full(socket_.get(), data.data(), data.size(), left_ms, left_ms)) return false;
  std::vector<uint8_t> out;
  const nbd::Next next = n.option(h.option, data, out);
  if (!send_bytes(out)) return false;
  entered_transmission_ = next == nbd::Next::kTransmission;
  return next != nbd::Next::kClose;
}

// --- Transmission: the reader

void NbdConnection::transmit() {
  counters_->transmitting++;
  writer_ = std::thread([this] { write_replies(); });
  for (;;) {
    uint8_t header[nbd::kRequestHeaderSize];
    if (read_full(socket_.get(), header, sizeof header, kForever, limits_.step_ms)) break;
    {
      std::lock_guard lock(mu_);
      if (broken_) break;
    }
    if (!serve_request(nbd::decode_request(header))) break;
  }
  finish_transmission();
}

bool NbdConnection::serve_request(const nbd::RequestHeader& h) {
  const nbd::Decision d = nbd::decide(h, export_);
  switch (d.action) {
    case nbd::Action::kClose:
      counters_->protocol_closes++;
      return false;
    case nbd::Action::kDisconnect:
      return false;
    case nbd::Action::kReply:
      // The refused request's write data is still on its way: read past it to stay in step.
      if (d.payload && skip_full(socket_.get(), d.payload, limits_.step_ms)) return false;
      if (!inflight_.acquire(0, limits_.max_requests, limits_.max_bytes, room())) return false;
      complete(Reply{h.handle, d.error, nullptr, 0, 0});
      return true;
    case nbd::Action::kSubmit:
      return submit(h, d);
  }
  return false;
}

bool NbdConnection::submit(const nbd::RequestHeader& h, const nbd::Decision& d) {
  const uint64_t bytes = uint64_t{d.payload} + d.reply_data;
  if (!inflight_.acquire(bytes, limits_.max_requests, limits_.max_bytes, room())) {
    counters_->protocol_closes++;  // the client does not read its replies, or the device is stuck
    return false;
  }
  std::shared_ptr<uint8_t[]> buf = bytes ? std::make_shared_for_overwrite<uint8_t[]>(bytes) : nullptr;
  if (d.payload && read_full(socket_.get(), buf.get(), d.payload, limits_.step_ms, limits_.step_ms)) {
    inflight_.release(bytes);
    return false;
  }
  Request r = d.request;
  r.data = buf.get();
  const uint64_t handle = h.handle;
  auto done = [self = shared_from_this(), r, handle, buf, bytes](int status) {
    if (status == 0) {
      self->counters_->requests++;
      if (r.op == Op::kWrite) self->counters_->bytes_written += r.length;
    }
    const bool data = status == 0 && r.op == Op::kRead;
    self->complete(Reply{handle, nbd::to_nbd_error(status), data ? buf : nullptr, data ? r.length : 0, bytes});
  };
  const int err = submit_split(device_, r, std::move(done), step());
  // A device that had no free slot within the bound is an I/O error for this request, not for the connection.
  if (err) complete(Reply{handle, nbd::to_nbd_error(err == EAGAIN ? EIO : err), nullptr, 0, bytes});
  return true;
}

void NbdConnection::complete(Reply r) {
  {
    std::lock_guard lock(mu_);
    replies_.push_back(std::move(r));
  }
  reply_ready_.notify_one();
}

void NbdConnection::finish_transmission() {
  // Requests in flight finish and their replies go out (to a client that sent DISC, as the spec requires);
  // bounded, because the device or the client may be what is stuck.
  inflight_.wait_idle(step());
  {
    std::lock_guard lock(mu_);
    writer_stop_ = true;
  }
  reply_ready_.notify_one();
  writer_.join();
}

// --- Transmission: the writer

void NbdConnection::write_replies() {
  bool ok = true;
  for (;;) {
    Reply r;
    {
      std::unique_lock lock(mu_);
      reply_ready_.wait(lock, [&] { return writer_stop_ || !replies_.empty(); });
      if (replies_.empty()) return;
      r = std::move(replies_.front());
      replies_.pop_front();
    }
    ok = ok && send_reply(r);
    inflight_.release(r.held);
    if (ok) continue;
    // The client stopped reading (or went): nothing more can be sent in step. Wake the reader to close.
    std::lock_guard lock(mu_);
    if (!broken_) counters_->protocol_closes++;
    broken_ = true;
    ::shutdown(socket_.get(), SHUT_RDWR);
  }
}

bool NbdConnection::send_reply(Reply& r) {
  std::vector<uint8_t> header;
  nbd::put_simple_reply(header, r.error, r.handle);
  iovec iov[2] = {{header.data(), header.size()}, {r.data.get(), r.data ? r.data_len : 0}};
  if (write_full(socket_.get(), iov, 2, limits_.step_ms)) return false;
  if (r.error) counters_->error_replies++;
  if (r.data) counters_->bytes_read += r.data_len;
  return true;
}

}  // namespace side::block
