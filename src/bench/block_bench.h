// `side bench --class block`: Leslie & Heiser's figures 2 and 3 for disks. Debian's virtio_blk on QEMU's
// virtio-blk-pci, backed by a temporary image the device reads and writes with O_DIRECT (no host page cache in
// between), isolated (a domain process) against the unisolated baseline (the same session, the driver in side's
// own process). For each request size and queue depth, the two are measured one right after the other, each in a
// fresh driver life: the image is filled with the pattern, then a window of random writes and one of random reads
// (checked word for word) are timed, with the CPU time of every process involved: side (the supervisor, which
// also runs the request generator and, in-process, the driver), the domain process and QEMU.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/machine_info.h"
#include "domain/domain.h"

namespace side::bench {

struct BlockBenchOptions {
  bool quick = false;
  std::vector<uint32_t> request_sizes;  // bytes
  std::vector<uint32_t> depths;         // requests in flight
  double warmup_s = 0.3, window_s = 2.0;
  // Each pair of points is measured this often, in-process and isolated in turn; the median (by requests/s) is
  // kept.
  unsigned repeats = 1;
  uint64_t disk_bytes = 64ull << 20;
  domain::DomainConfig domain;  // paths of the kernel-API layer, Module.symvers and modules
  std::string module = "virtio_blk";
  std::string qemu_binary;
  std::string executable = "/proc/self/exe";
  std::function<void(const std::string&)> progress;  // one line per measurement
  std::function<void(size_t done, size_t total, const std::string& step)> on_step;

  // The full set (3 repeats), or --quick's (4 KiB and 64 KiB, short windows, one run).
  static BlockBenchOptions defaults(bool quick);
};

struct BlockPoint {
  std::string isolation;  // "inproc" or "process"
  std::string op;         // "read" or "write"
  uint32_t request_bytes = 0, depth = 0;
  double seconds = 0;
  uint64_t requests = 0, bytes = 0, blocks_verified = 0;
  // CPU seconds over the window: side's whole process (with the generator, and in-process the driver), the domain
  // process (0 in-process), QEMU; and the generator thread's share of side's.
  double cpu_supervisor_s = 0, cpu_domain_s = 0, cpu_qemu_s = 0, cpu_generator_s = 0;
  double probe_ms = 0;
  std::string error;  // empty when the point is valid

  double iops() const { return seconds > 0 ? static_cast<double>(requests) / seconds : 0; }
  double mbps() const { return seconds > 0 ? static_cast<double>(bytes) / seconds / 1e6 : 0; }
  double cpu_s() const { return cpu_supervisor_s + cpu_domain_s + cpu_qemu_s; }
  double cpu_us_per_request() const { return requests ? cpu_s() * 1e6 / static_cast<double>(requests) : 0; }
  double cpu_us_per_request_without_generator() const {
    return requests ? (cpu_s() - cpu_generator_s) * 1e6 / static_cast<double>(requests) : 0;
  }
};

struct BlockBenchResults {
  MachineInfo machine;
  bool quick = false;
  double elapsed_s = 0, warmup_s = 0, window_s = 0;
  double load_before = -1, load_after = -1;  // the 1-minute load average as the run started and ended
  unsigned repeats = 1;
  uint64_t disk_bytes = 0;
  std::string module, device;
  std::vector<BlockPoint> points;  // per size, depth and op: inproc then process
};

BlockBenchResults run_block_bench(const BlockBenchOptions& options);

// One driver life: the write and the read point of one size and depth (exposed for tests).
std::vector<BlockPoint> measure_block_pair(const BlockBenchOptions& options, const std::string& isolation,
                                           uint32_t request_bytes, uint32_t depth);

// "4 KiB", "512 B", "1 MiB".
std::string request_size_label(uint32_t bytes);

}  // namespace side::bench
