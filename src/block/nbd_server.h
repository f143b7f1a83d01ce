// The disk as an NBD export (fixed newstyle negotiation, simple replies), on a Unix socket and/or a TCP port on
// the loopback address only, for qemu-img, nbdcopy/nbdinfo (libnbd) and nbd-client:
//   nbdinfo 'nbd+unix:///side?socket=/run/side/disk.sock'
//   qemu-img convert -f raw -O qcow2 'nbd+unix:///side?socket=/run/side/disk.sock' copy.qcow2
// Several clients are served at once, each on its own thread (at most max_clients; one more is closed at once).
// The device must outlive the server; stop() (or the destructor) returns within the connections' bounds.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "block/block_device.h"
#include "block/nbd_connection.h"
#include "block/nbd_counters.h"
#include "common/fd.h"
#include "common/result.h"

namespace side::block {

struct NbdServerOptions {
  std::string unix_path;             // empty: no Unix socket
  std::optional<uint16_t> tcp_port;  // 127.0.0.1; 0: a free port, see tcp_port()
  std::string export_name = "side";  // the empty name (the default export) also selects it
  std::string description = "disk exported by side";
  unsigned max_clients = 8;
  NbdLimits limits;
};

class NbdServer {
 public:
  static Result<std::unique_ptr<NbdServer>> start(BlockDevice& device, const NbdServerOptions& options);
  ~NbdServer();

  // Closes the listeners and every connection, and waits for the connections' threads (each bounded).
  void stop();

  uint16_t tcp_port() const { return tcp_port_; }
  const NbdCounters& counters() const { return *counters_; }

 private:
  struct Client {
    std::shared_ptr<NbdConnection> connection;
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> finished;
  };

  NbdServer(BlockDevice& device, const NbdServerOptions& options);
  Status listen_unix();
  Status listen_tcp(uint16_t port);
  void accept_loop();
  void accept_one(int listener);
  void reap(bool all);

  BlockDevice& device_;
  const NbdServerOptions options_;
  std::shared_ptr<NbdCounters> counters_ = std::make_shared<NbdCounters>();
  Fd unix_listener_, tcp_listener_, wake_;
  uint16_t tcp_port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<Client> clients_;
  bool stopped_ = false;
};

}  // namespace side::block
