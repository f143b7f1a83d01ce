// QEMU as a device server process: one qemu-system-x86_64 per device, started by side with QEMU's vfio-user server
// exporting one of its PCI models on a socket in a private directory, and stopped (with the directory) when the
// device goes. Nothing is left behind: the process dies with side (parent-death signal) and exits by itself once
// its client disconnects (auto-shutdown); stop() makes sure of it (SIGTERM, then SIGKILL) and reaps it.
//
// Confinement: as root, QEMU runs as nobody, in a network namespace of its own with no interface (its only network
// is the frame socket side hands it), with no new privileges. It reaches the domain's DMA memory only through the
// descriptor the client passes it (vfio-user DMA_MAP).
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>

#include "common/fd.h"
#include "common/result.h"

namespace side::vfio_user {

struct QemuConfig {
  std::string binary;  // qemu-system-x86_64 with the vfio-user server (scripts/build-qemu.sh)
  std::string device;  // QEMU's -device model: e1000, rtl8139, ...
  std::array<uint8_t, 6> mac{};
  bool network = true;       // a NIC: its netdev is the datagram socket `netdev_fd`
  bool disk = false;         // a disk: its drive is the image `disk_fd` (opened read-write by side, passed as an fdset)
  bool disk_direct = false;  // its drive bypasses the host page cache (cache.direct=on: QEMU sets O_DIRECT)
  std::chrono::milliseconds start_timeout{10'000};  // until its socket accepts a connection
};

class QemuProcess {
 public:
  // Starts QEMU; `netdev_fd` (a SOCK_DGRAM socket, one frame per datagram) becomes its network backend, `disk_fd`
  // (a disk image open read-write) its drive. Either may be -1 when the config has no such backend.
  static Result<std::unique_ptr<QemuProcess>> start(const QemuConfig& config, int netdev_fd, int disk_fd = -1);
  ~QemuProcess();
  QemuProcess(const QemuProcess&) = delete;
  QemuProcess& operator=(const QemuProcess&) = delete;

  // A connection to the server's socket, waiting (bounded by start_timeout) until QEMU listens on it.
  Result<Fd> connect();
  // Ends the process (it may already have ended) and removes its directory. Idempotent.
  void stop();
  pid_t pid() const { return pid_; }
  // What QEMU printed (its last lines), for error messages.
  std::string log_tail() const;

 private:
  QemuProcess() = default;
  bool exited();

  QemuConfig config_;
  std::string dir_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

}  // namespace side::vfio_user
