// One complete life of a NIC driver on an emulated device, in this process: create the domain and the machine,
// load the driver, plug in the device, probe, open, wait for link, run verified traffic, close, remove and
// unload; then report what every layer counted. `side run` and the integration tests use it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "devices/e1000/e1000.h"
#include "devices/iommu/iommu.h"
#include "domain/domain.h"
#include "supervisor/traffic_peer.h"

namespace side::supervisor {

struct NicSessionConfig {
  std::string isolation = "process";  // "process" (a sandboxed domain process) or "inproc" (the baseline)
  domain::DomainConfig domain;
  std::string module = "e1000";
  std::string params;
  bool allow_missing = false;
  std::array<uint8_t, 6> mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
  TrafficConfig traffic;
  unsigned link_timeout_ms = 10'000;
  // Kills the domain (SIGKILL) this long into the traffic, to show what a crash does; 0: never.
  double kill_after_s = 0;
  std::string executable = "/proc/self/exe";  // the `side` binary domain processes run
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
  e1000::Counters nic{};
  iommu::Counters iommu{};
  uint64_t dma_mappings_after_remove = 0;
  std::optional<domain::Domain::IrqStats> irqs;
  std::vector<domain::FaultReport> faults;
  bool ok() const { return error.empty() && faults.empty(); }
};

// Runs on the calling thread, which becomes the domain's virtual CPU 0.
NicSessionReport run_nic_session(const NicSessionConfig& config);

}  // namespace side::supervisor
