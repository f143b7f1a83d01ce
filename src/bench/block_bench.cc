#include "bench/block_bench.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "bench/block_load.h"
#include "bench/process_cpu.h"
#include "session/block_session.h"

namespace side::bench {
namespace {

using clock = std::chrono::steady_clock;

// CPU seconds of side, its domain process and its other children (QEMU) at one moment.
struct CpuSnapshot {
  double supervisor = 0, domain = 0;
  std::map<int, double> others;
  bool ok = true;
};

CpuSnapshot snapshot(int domain_pid) {
  CpuSnapshot s;
  s.supervisor = process_cpu_s(getpid());
  s.ok = s.supervisor >= 0;
  if (domain_pid != getpid()) {
    s.domain = process_cpu_s(domain_pid);
    s.ok &= s.domain >= 0;
  }
  for (int pid : child_pids()) {
    if (pid != domain_pid) s.others[pid] = process_cpu_s(pid);
  }
  return s;
}

// Fills the point's CPU figures from the window's two snapshots; an error if a process came or went in between.
void charge(const CpuSnapshot& a, const CpuSnapshot& b, BlockPoint& p) {
  if (!a.ok || !b.ok || a.others.size() != b.others.size()) {
    p.error = "cannot read the CPU time of a process";
    return;
  }
  p.cpu_supervisor_s = b.supervisor - a.supervisor;
  p.cpu_domain_s = b.domain - a.domain;
  for (const auto& [pid, cpu] : a.others) {
    auto it = b.others.find(pid);
    if (it == b.others.end() || cpu < 0 || it->second < 0) {
      p.error = "a child process ended during the window";
      return;
    }
    p.cpu_qemu_s += it->second - cpu;
  }
}

BlockPoint measure_op(const BlockBenchOptions& o, const session::BlockSessionHandles& h, BlockPoint p) {
  BlockLoadConfig c;
  c.op = p.op == "write" ? block::Op::kWrite : block::Op::kRead;
  c.request_bytes = p.request_bytes;
  c.depth = p.depth;
  c.region_bytes = o.disk_bytes;
  c.warmup_s = o.warmup_s;
  c.window_s = o.window_s;
  CpuSnapshot before, after;
  const int pid = h.domain.pid();
  c.on_window_start = [&] { before = snapshot(pid); };
  c.on_window_end = [&] { after = snapshot(pid); };
  const BlockLoadResult r = run_block_load(h.disk, c);
  p.seconds = r.seconds;
  p.requests = r.requests;
  p.bytes = r.bytes;
  p.blocks_verified = r.blocks_verified;
  p.cpu_generator_s = r.generator_cpu_s;
  p.error = r.error;
  if (p.error.empty()) charge(before, after, p);
  if (p.error.empty() && p.requests == 0) p.error = "no request completed in the window";
  return p;
}

session::BlockSessionConfig session_config(const BlockBenchOptions& o, const std::string& isolation, uint32_t depth) {
  session::BlockSessionConfig c;
  c.isolation = isolation;
  c.domain = o.domain;
  // Staging for every request in flight (1 MiB each) beside the driver's own memory.
  c.domain.arena_bytes = std::max<uint64_t>(c.domain.arena_bytes, (uint64_t{depth} << 20) + (64ull << 20));
  c.module = o.module;
  c.qemu_binary = o.qemu_binary;
  c.executable = o.executable;
  c.disk_size = o.disk_bytes;
  c.disk_direct = true;
  c.queue_depth = depth;
  c.recover = false;  // a fault invalidates the point
  c.announce = false;
  return c;
}

}  // namespace

BlockBenchOptions BlockBenchOptions::defaults(bool quick) {
  BlockBenchOptions o;
  o.quick = quick;
  o.depths = {1, 32};
  if (quick) {
    o.request_sizes = {4096, 65536};
    o.warmup_s = 0.1;
    o.window_s = 0.5;
    o.disk_bytes = 16ull << 20;  // a shorter fill; still 8 times what QD32 of 64 KiB keeps in flight
  } else {
    o.request_sizes = {512, 4096, 16384, 65536, 262144, 1u << 20};
    o.repeats = 3;
  }
  return o;
}

std::string request_size_label(uint32_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

std::vector<BlockPoint> measure_block_pair(const BlockBenchOptions& o, const std::string& isolation,
                                           uint32_t request_bytes, uint32_t depth) {
  std::vector<BlockPoint> points;
  for (const char* op : {"write", "read"}) {
    BlockPoint p;
    p.isolation = isolation;
    p.op = op;
    p.request_bytes = request_bytes;
    p.depth = depth;
    points.push_back(p);
  }
  auto c = session_config(o, isolation, depth);
  std::string fill_error;
  c.workload = [&](const session::BlockSessionHandles& h) {
    // Reads are checked against the pattern: the whole region holds it before anything is timed.
    fill_error = fill_region(h.disk, o.disk_bytes, 1);
    if (!fill_error.empty()) return;
    for (auto& p : points) p = measure_op(o, h, p);
  };
  const auto report = session::run_block_session(c);
  for (auto& p : points) {
    p.probe_ms = report.probe_ms;
    if (!fill_error.empty()) p.error = "filling the disk: " + fill_error;
    if (p.error.empty() && !report.ok()) p.error = report.error.empty() ? "the driver faulted" : report.error;
    if (p.error.empty() && p.requests == 0) p.error = "not measured";
  }
  return points;
}

namespace {

// The median of each point over its repeats (by requests per second); a failed measurement wins, so that a
// failure is never hidden by a good repeat.
std::vector<BlockPoint> median_points(const std::vector<std::vector<BlockPoint>>& runs) {
  std::vector<BlockPoint> out;
  for (size_t k = 0; k < runs.front().size(); ++k) {
    std::vector<BlockPoint> same;
    for (const auto& r : runs) same.push_back(r[k]);
    auto failed = std::find_if(same.begin(), same.end(), [](const auto& p) { return !p.error.empty(); });
    if (failed != same.end()) {
      out.push_back(*failed);
      continue;
    }
    std::sort(same.begin(), same.end(), [](const auto& a, const auto& b) { return a.iops() < b.iops(); });
    out.push_back(same[same.size() / 2]);
  }
  return out;
}

// The 1-minute load average: how busy the machine was, for the report.
double load_average() {
  double load = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

std::string describe(const BlockPoint& p) {
  char line[256];
  const std::string size = request_size_label(p.request_bytes);
  if (!p.error.empty()) {
    std::snprintf(line, sizeof line, "%-7s %-5s %7s QD%-2u FAILED: %s", p.isolation.c_str(), p.op.c_str(), size.c_str(),
                  p.depth, p.error.c_str());
  } else {
    std::snprintf(line, sizeof line, "%-7s %-5s %7s QD%-2u %8.0f IOPS %8.1f MB/s %7.1f us CPU/request",
                  p.isolation.c_str(), p.op.c_str(), size.c_str(), p.depth, p.iops(), p.mbps(), p.cpu_us_per_request());
  }
  return line;
}

}  // namespace

BlockBenchResults run_block_bench(const BlockBenchOptions& o) {
  BlockBenchResults r;
  r.machine = describe_machine();
  r.quick = o.quick;
  r.warmup_s = o.warmup_s;
  r.window_s = o.window_s;
  r.repeats = std::max(1u, o.repeats);
  r.disk_bytes = o.disk_bytes;
  r.module = o.module;
  r.device = "qemu:virtio-blk-pci";
  r.load_before = load_average();
  const auto start = clock::now();
  const unsigned repeats = std::max(1u, o.repeats);
  const size_t total = o.request_sizes.size() * o.depths.size() * 2 * repeats;
  size_t done = 0;
  for (uint32_t size : o.request_sizes) {
    for (uint32_t depth : o.depths) {
      // Side by side: the baseline and the isolated driver, one right after the other, in every repeat.
      std::vector<std::vector<BlockPoint>> runs[2];
      for (unsigned i = 0; i < repeats; ++i) {
        for (int k = 0; k < 2; ++k) {
          const std::string iso = k == 0 ? "inproc" : "process";
          if (o.on_step) o.on_step(done, total, iso + " " + request_size_label(size) + " QD" + std::to_string(depth));
          runs[k].push_back(measure_block_pair(o, iso, size, depth));
          ++done;
        }
      }
      for (const auto& iso_runs : runs) {
        for (auto& p : median_points(iso_runs)) {
          if (o.progress) o.progress(describe(p));
          r.points.push_back(std::move(p));
        }
      }
    }
  }
  if (o.on_step) o.on_step(total, total, "done");
  r.elapsed_s = std::chrono::duration<double>(clock::now() - start).count();
  r.load_after = load_average();
  return r;
}

}  // namespace side::bench
