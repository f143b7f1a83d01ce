// One NBD client: the negotiation, then the transmission phase with requests pipelined. The connection's own
// thread reads requests and submits them; the device completes them on its threads; a writer thread sends the
// replies in completion order (so a client that stops reading holds up only itself, never a device thread).
//
// Bounds (NbdLimits): the negotiation must end within negotiate_ms; each message must arrive whole within step_ms
// of its first byte (a client trickling bytes gains nothing); a reply must make progress within step_ms; the requests
// (and bytes of data) one client has in flight are capped, and the reader waits for room at most room_ms. Waiting for
// the next request header is unbounded (an idle client is legitimate) but stop() ends it at once by shutting the socket
// down.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "block/block_device.h"
#include "block/inflight.h"
#include "block/nbd_counters.h"
#include "block/nbd_protocol.h"
#include "common/fd.h"

namespace side::block {

struct NbdLimits {
  int negotiate_ms = 60'000;       // the whole negotiation, from the greeting to GO or EXPORT_NAME
  int step_ms = 30'000;            // one negotiation step, one message body, progress of one reply
  int room_ms = 60'000;            // the reader's wait for room under the caps below
  uint32_t max_requests = 64;      // in flight per client
  uint64_t max_bytes = 64u << 20;  // data buffers held per client (two 32 MiB requests)
};

class NbdConnection : public std::enable_shared_from_this<NbdConnection> {
 public:
  NbdConnection(Fd socket, BlockDevice& device, const nbd::Export& e, const NbdLimits& limits,
                std::shared_ptr<NbdCounters> counters);
  ~NbdConnection();

  // Serves the client until it disconnects, misbehaves or stop() is called; then waits (bounded) for its requests
  // in flight and closes. Runs on the connection's thread.
  void run();
  // Ends run() soon, from any thread.
  void stop();

 private:
  struct Reply {
    uint64_t handle = 0;
    uint32_t error = 0;
    std::shared_ptr<uint8_t[]> data;  // read data, sent after the header when error == 0
    uint32_t data_len = 0;
    uint64_t held = 0;  // bytes counted in inflight_ for this request
  };

  std::chrono::milliseconds step() const { return std::chrono::milliseconds(limits_.step_ms); }
  std::chrono::milliseconds room() const { return std::chrono::milliseconds(limits_.room_ms); }
  bool negotiate();
  bool negotiate_option(nbd::Negotiation& n, uint64_t deadline_ns);
  void transmit();
  bool serve_request(const nbd::RequestHeader& h);
  bool submit(const nbd::RequestHeader& h, const nbd::Decision& d);
  void complete(Reply r);
  void write_replies();
  bool send_reply(Reply& r);
  void finish_transmission();
  bool send_bytes(const std::vector<uint8_t>& bytes);

  Fd socket_;
  BlockDevice& device_;
  const nbd::Export export_;
  const NbdLimits limits_;
  const std::shared_ptr<NbdCounters> counters_;  // shared: a late completion may outlive the server
  Inflight inflight_;

  std::mutex mu_;
  std::condition_variable reply_ready_;
  std::deque<Reply> replies_;
  bool writer_stop_ = false;
  bool entered_transmission_ = false;
  bool broken_ = false;  // a reply could not be sent: the stream is out of step, stop reading
  std::thread writer_;
};

}  // namespace side::block
