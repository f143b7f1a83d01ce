// One complete life of a disk driver (virtio_blk) on its device, beside the NIC's (nic_session.h): the domain and
// the machine, the driver loaded, the disk device its id table asks for plugged in (backed by an image file) and
// probed; the disk the driver added becomes a DriverDisk, exported to the host through NBD and/or FUSE, verified by
// the built-in workload, or both; then removed and unloaded, and what every layer counted reported.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "block/block_device.h"
#include "domain/domain.h"
#include "session/block_verify.h"
#include "session/session_status.h"
#include "supervisor/driver_domain.h"
#include "supervisor/recoverable_domain.h"

namespace side::session {

// What a workload (BlockSessionConfig::workload) is given while the driver's disk is up.
struct BlockSessionHandles {
  block::BlockDevice& disk;  // the driver's disk, as the exporters use it
  supervisor::DriverDomain& domain;
};

struct BlockSessionConfig {
  // "process" (a sandboxed domain process) or "inproc" (the unisolated baseline: the same session, the driver in
  // side's own process, on a control thread of its own).
  std::string isolation = "process";
  domain::DomainConfig domain;
  std::string module;       // the driver (name or path); its PCI id table chooses the device
  std::string device;       // --device: "" or "qemu:MODEL" (supervisor/device_choice.h)
  std::string qemu_binary;  // the qemu-system-x86_64 with the vfio-user server
  std::string params;
  bool allow_missing = false;
  std::string executable = "/proc/self/exe";
  // The image behind the disk; empty: a temporary one of disk_size bytes in $TMPDIR, removed at the end.
  std::string disk_image;
  uint64_t disk_size = 64ull << 20;
  bool disk_direct = false;  // the device bypasses the host page cache (devices::DeviceOptions::disk_direct)
  uint32_t queue_depth = 8;  // requests in flight at once, each with 1 MiB of staging in the arena (driver_disk.h)
  // The built-in verified workload (--verify), run first when asked for.
  bool verify = false;
  BlockVerifyConfig verify_config;
  // Host exports: a FUSE file, an NBD Unix socket, an NBD TCP port on 127.0.0.1 (0: any free one).
  std::string fuse_path, nbd_unix;
  std::optional<uint16_t> nbd_port;
  // With an export: a host command (sh -c) to run (the session ends when it exits), or a duration, or neither
  // (until *stop: a service).
  std::string exec;
  double duration_s = 0;
  const std::atomic<bool>* stop = nullptr;
  bool announce = true;  // say on stderr where the exports are once they are up
  // A failed driver is restarted in a fresh domain (recoverable_domain.h) and the requests it did not complete are
  // submitted again (driver_disk.h): the exports and the workload see a pause, not an error.
  bool recover = true;
  supervisor::RecoveryPolicy policy;
  // Kills the domain (SIGKILL) during the verify workload, just after each of these requests completed (tests).
  std::vector<uint64_t> kill_after_requests;
  // While serving: kill the domain every `crash_every_s` seconds, `crashes` times (recovery brings it back).
  double crash_every_s = 0;
  unsigned crashes = 0;
  // While the exports serve, for service managers and `side status` (src/service): a snapshot once they are up
  // (kRunning), every 500 ms, and when the session starts stopping. The disk's name stands for the network device,
  // the exports for the host interface.
  std::function<void(const SessionStatus&)> on_status;
  // Run on the calling thread once the disk is up (after --verify, before the exports); the session then ends.
  std::function<void(const BlockSessionHandles&)> workload;
};

struct BlockSessionReport {
  std::string error;  // empty on success
  std::string device, driver, disk, image;
  int domain_pid = 0, supervisor_pid = 0;
  double load_ms = 0, probe_ms = 0, remove_ms = 0;
  side_block_info info{};
  block::Geometry geometry;
  std::optional<BlockVerifyResult> verify;
  uint16_t nbd_port = 0;
  int exec_status = -1;
  uint64_t requests = 0, request_errors = 0, bytes_read = 0, bytes_written = 0, reissued = 0;
  unsigned kills = 0;
  std::vector<supervisor::RecoveryTimings> recoveries;
  bool gave_up = false;
  uint64_t dma_mappings_after_remove = 0;
  std::vector<domain::FaultReport> faults;
  // Clean: no error, nothing failed to verify, and every fault (if any) ended in a restart.
  bool ok() const {
    return error.empty() && !gave_up && (!verify || verify->ok()) && (faults.empty() || !recoveries.empty());
  }
};

// Runs on the calling thread; the driver runs in a domain process or, inproc, on a thread of its own in this one.
BlockSessionReport run_block_session(const BlockSessionConfig& config);

}  // namespace side::session
