// One complete life of a NIC driver on an emulated device, in this process: create the domain and the machine,
// load the driver, plug in the device its PCI id table asks for, probe, open, wait for link, run verified traffic,
// close, remove and unload; then report what every layer counted. `side run` and the integration tests use it.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "devices/iommu/iommu.h"
#include "devices/net/nic.h"
#include "devices/pci/pci_device.h"
#include "domain/domain.h"
#include "host/host_network.h"
#include "session/session_status.h"
#include "session/traffic_peer.h"
#include "supervisor/recoverable_domain.h"

namespace side::session {

// What a workload running beside the built-in traffic can reach.
struct SessionHandles {
  supervisor::DriverDomain& domain;
  supervisor::RecoverableDomain* recoverable;  // null without recovery
  supervisor::Machine& machine;
  uint32_t device;
  TrafficPeer& peer;
  std::string peer_namespace;  // network mode: the namespace of the cable's far end ("" if side made none)
};

struct NicSessionConfig {
  std::string isolation = "process";  // "process" (a sandboxed domain process) or "inproc" (the baseline)
  domain::DomainConfig domain;
  std::string module;       // the driver (name or path); its PCI id table chooses the emulated device
  std::string device;       // --device: "", "builtin" or "qemu:MODEL" (supervisor/device_choice.h)
  std::string qemu_binary;  // for a QEMU model: the qemu-system-x86_64 with the vfio-user server
  std::string params;
  bool allow_missing = false;
  std::array<uint8_t, 6> mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  TrafficConfig traffic;
  unsigned link_timeout_ms = 10'000;
  // Kills the domain (SIGKILL) this long into the traffic, to show what a crash does; 0: never.
  double kill_after_s = 0;
  // Or once this many frames were verified, both directions together (whatever the machine's speed, the kill then
  // lands inside the traffic); 0: never.
  uint64_t kill_after_frames = 0;
  // Process isolation: a failed driver is restarted in a fresh domain (recoverable_domain.h), under `policy`.
  bool recover = true;
  supervisor::RecoveryPolicy policy;
  std::string executable = "/proc/self/exe";  // the `side` binary domain processes run

  // The network around the NIC. Disabled: the built-in traffic peer (`traffic`) is the wire and the host. Enabled:
  // the host side is a TAP (`ifname`) that every program can use, and the wire a TAP, usually in a fresh peer
  // network namespace; `exec` runs on the host while the driver is up (the session ends when it exits).
  struct Network {
    bool enabled = false;
    std::string ifname = "side0";
    std::string wire_tap;      // NAME@NETNS or NAME: a cable into an existing namespace (no addresses set)
    bool create_peer = false;  // a fresh namespace "side-peer-<pid>" holding the wire TAP "peer0"
    std::string host_addr = "10.77.0.1/24", peer_addr = "10.77.0.2/24";
    std::string exec;                         // host command (sh -c), inheriting stdout/stderr
    std::string peer_exec;                    // started first in the peer namespace, stopped at the end
    double duration_s = 0;                    // with no exec: how long to run (0: until *stop)
    const std::atomic<bool>* stop = nullptr;  // Ctrl-C
    bool live = true;                         // a line of counters every second
  } network;
  std::string pcap;  // capture every frame on the wire into this file (either mode)
  // Built-in traffic only: runs on a thread of its own once traffic flows; traffic ends when it returns.
  std::function<void(const SessionHandles&)> workload;
  // Network mode: runs on a thread of its own while the host command runs, until `stop` (the soak's timed faults).
  std::function<void(const SessionHandles&, const std::atomic<bool>& stop)> network_workload;
  // Network mode: kill the domain every `crash_every_s` seconds, `crashes` times (recovery brings it back).
  double crash_every_s = 0;
  unsigned crashes = 0;
  // Network mode, for service managers and `side status` (src/service): called on the session's thread with a
  // snapshot once the driver is up (kRunning), every kStatusInterval while it runs, and when it starts stopping.
  std::function<void(const SessionStatus&)> on_status;
  static constexpr std::chrono::milliseconds kStatusInterval{500};
};

struct NicSessionReport {
  std::string error;   // empty on success
  std::string device;  // "8086:100e 0000:00:03.0"
  std::string driver;
  std::string netdev;  // the name the driver registered, e.g. "eth0"
  int domain_pid = 0;
  int supervisor_pid = 0;
  std::array<uint8_t, 6> mac{};
  double load_ms = 0, probe_ms = 0, open_ms = 0, link_ms = 0, close_ms = 0, remove_ms = 0;
  TrafficResult traffic;
  side_netdev_stats driver_stats{};
  std::optional<side_ethtool_info> ethtool;  // as the driver reported it once the link was up
  host::HostCounters host{};
  host::WireCounters wire{};
  std::string peer_namespace;
  int exec_status = -1;  // the host command's exit status
  std::vector<supervisor::RecoveryTimings> recoveries;
  bool gave_up = false;
  std::string give_up_message;  // why side stopped restarting the driver (driver, restarts, last fault)
  net::NicCounters nic{};
  pci::PciDevice::NamedCounters device_counters;  // the device model's own (PciDevice::model_counters)
  iommu::Counters iommu{};
  uint64_t dma_mappings_after_remove = 0;
  std::optional<supervisor::DomainCounters> counters;   // as the domain counted them, at the end of the traffic
  std::optional<supervisor::CrossingCounts> crossings;  // what crossed to and from a domain process
  // --isolation sfi: what the translator rewrote in the driver's code, and how many checks failed.
  struct SfiCounts {
    uint64_t write_sites = 0, indirect_branches = 0, returns = 0, checks_failed = 0;
  };
  std::optional<SfiCounts> sfi;
  std::vector<domain::FaultReport> faults;
  // Clean: no error, and every fault (if any) ended in a successful restart.
  bool ok() const {
    if (!error.empty() || gave_up) return false;
    for (const auto& r : recoveries) {
      if (!r.ok) return false;
    }
    return faults.empty() || !recoveries.empty();
  }
};

// Runs on the calling thread, which becomes the domain's virtual CPU 0.
NicSessionReport run_nic_session(const NicSessionConfig& config);

}  // namespace side::session
