// `side bench`: SIDE's evaluation (and what its review found missing) measured on this machine in one run, each
// figure for the unisolated baseline (the driver in side's own process) beside the isolated driver (a sandboxed
// domain process), so that ratios compare measurements taken minutes apart under the same conditions.
//
// Every throughput point is a fresh driver life (load, probe, open) with the built-in verifying peer: after a
// warm-up, a window of steady traffic is measured for packets, bytes, and the CPU time of every process involved
// (side itself, which runs the emulated NIC and the peer, and the domain process). Frames are verified byte for
// byte; a point with a corrupt, lost or out-of-order frame is reported as failed, not as a figure.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bench/machine_info.h"
#include "domain/domain.h"
#include "ipc/optimisations.h"
#include "session/traffic_peer.h"
#include "supervisor/recoverable_domain.h"

namespace side::bench {

// How a throughput point runs the frame path. The bench measures every mode of BenchOptions::modes side by side at
// each point; a new isolation (say, software fault isolation in side's own process) is one more entry here and in
// run_mode_point(), and one more column of the report.
struct BenchMode {
  std::string name;   // as in the results: "relay", "inproc", "process", "sfi"
  std::string label;  // as in the report: "relay", "in-process", "isolated", "sfi"
  bool driver;        // false: the no-driver relay (bench/frame_relay.h), the ceiling of the path
};
// Every mode side knows, in report order; nullptr for an unknown name.
const std::vector<BenchMode>& bench_modes();
const BenchMode* find_mode(const std::string& name);

struct BenchOptions {
  bool quick = false;
  std::vector<std::string> modes = {"relay", "inproc", "process", "sfi"};  // throughput points, in this order
  // Modes measured only at these frame sizes; every other mode is measured at every size of frame_sizes.
  std::map<std::string, std::set<size_t>> mode_sizes;
  std::vector<size_t> frame_sizes;  // bytes without the FCS (60 is a 64-byte frame on the wire)
  double warmup_s = 0.3, window_s = 2.0;
  unsigned repeats = 3;               // throughput points are measured this often; the median is kept
  unsigned optimisation_repeats = 3;  // the same for the optimisations (Table V) points
  unsigned latency_exchanges = 10'000;
  std::vector<size_t> latency_frame_sizes;
  double tcp_seconds = 5;
  unsigned recoveries = 100;
  std::set<std::string> sections;  // throughput, optimisations, latency, tcp, recovery
  domain::DomainConfig domain;     // paths of the kernel-API layer, Module.symvers and modules
  std::string module = "e1000";
  std::string executable = "/proc/self/exe";
  std::function<void(const std::string&)> progress;  // one line per measurement
  // Before each measurement (done = measurements finished, step = the one starting) and once at the end.
  std::function<void(size_t done, size_t total, const std::string& step)> on_step;

  // The defaults for a full run, or for --quick (CI: everything, reduced, in well under two minutes).
  static BenchOptions defaults(bool quick);
  // Whether the throughput section measures `mode` at `frame_size`.
  bool measures(const std::string& mode, size_t frame_size) const;
};

struct ThroughputPoint {
  std::string isolation;  // the mode: "relay", "inproc", "process" or "sfi"
  std::string direction;  // "tx" (host -> driver -> wire) or "rx" (wire -> driver -> host)
  size_t frame_size = 0;  // without FCS
  std::string disabled;   // optimisations switched off ("" = all on)
  double seconds = 0;     // the measured window
  uint64_t packets = 0, bytes = 0;
  double cpu_supervisor_s = 0, cpu_domain_s = 0;  // in-process: all of it is the supervisor's
  uint64_t traps = 0;                             // device accesses that trapped during the window
  uint64_t direct_accesses = 0;                   // device accesses through rewritten sites during the window
  double probe_ms = 0;
  std::string error;  // empty when the point is valid
  // The repeats this median point was taken from, and their spread (min-max of each figure over the repeats).
  unsigned runs = 1;
  double pps_min = 0, pps_max = 0, cpu_min = 0, cpu_max = 0;

  size_t wire_bytes() const { return frame_size + 4; }  // with the FCS
  double pps() const { return seconds > 0 ? static_cast<double>(packets) / seconds : 0; }
  double gbps() const { return pps() * static_cast<double>(wire_bytes()) * 8 / 1e9; }
  double cpu_ns_per_packet() const {
    return packets ? (cpu_supervisor_s + cpu_domain_s) * 1e9 / static_cast<double>(packets) : 0;
  }
};

struct LatencyPoint {
  std::string isolation;
  size_t frame_size = 0;
  uint64_t samples = 0, lost = 0;
  double min_us = 0, p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
  std::string error;
};

struct TcpPoint {
  std::string isolation;
  double seconds = 0;
  double sender_gbps = 0, receiver_gbps = 0;
  uint64_t retransmits = 0;
  double host_cpu_percent = 0;  // iperf3's own sender-side figure
  std::string error;
};

struct RecoveryRun {
  unsigned requested = 0;
  std::vector<supervisor::RecoveryTimings> recoveries;
  uint64_t frames_lost = 0, frames_verified = 0;
  std::string error;
};

struct BenchResults {
  MachineInfo machine;
  bool quick = false;
  double elapsed_s = 0;
  std::vector<ThroughputPoint> throughput;     // every size, direction and isolation, all optimisations on
  std::vector<ThroughputPoint> optimisations;  // isolated, one optimisation off at a time
  std::vector<LatencyPoint> latency;
  std::vector<TcpPoint> tcp;
  RecoveryRun recovery;
};

BenchResults run_bench(const BenchOptions& options);

// The no-driver relay's points (relay_points.cc): one throughput point with the built-in peer, and TCP (iperf3)
// between the host's TAP and the wire's, relayed.
ThroughputPoint measure_relay_throughput(const BenchOptions& options, const std::string& direction, size_t frame_size);
TcpPoint measure_relay_tcp(const BenchOptions& options);

// Why a point's traffic makes it no figure (every frame is verified: corrupt, reordered or lost frames, or none):
// "" if it does.
std::string traffic_error(const session::DirectionResult& d, uint64_t packets);

// One throughput point (exposed for tests).
ThroughputPoint measure_throughput(const BenchOptions& options, const std::string& isolation,
                                   const std::string& direction, size_t frame_size, const ipc::Optimisations& opt);

}  // namespace side::bench
