#include "cli/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>

#include "cli/json.h"
#include "cli/report_values.h"

namespace side::cli {
namespace {

using bench::BenchResults;
using bench::ThroughputPoint;

const ThroughputPoint* find(const std::vector<ThroughputPoint>& v, const std::string& iso, const std::string& dir,
                            size_t size, const std::string& disabled = "") {
  for (const auto& p : v) {
    if (p.isolation == iso && p.direction == dir && p.frame_size == size && p.disabled == disabled && p.error.empty())
      return &p;
  }
  return nullptr;
}

struct Ratio {
  std::string direction;
  size_t frame_size;
  std::optional<double> throughput, cpu;          // process / inproc
  std::optional<double> sfi_throughput, sfi_cpu;  // sfi / inproc
};

std::vector<size_t> sizes_of(const std::vector<ThroughputPoint>& v) {
  std::vector<size_t> s;
  for (const auto& p : v) {
    if (std::find(s.begin(), s.end(), p.frame_size) == s.end()) s.push_back(p.frame_size);
  }
  std::sort(s.begin(), s.end());
  return s;
}

// A mode's packet rate (cpu: its CPU per packet) over in-process's at one point; none if either point failed.
std::optional<double> vs_inproc(const BenchResults& r, const std::string& mode, const std::string& dir, size_t size,
                                bool cpu) {
  const auto* in = find(r.throughput, "inproc", dir, size);
  const auto* p = find(r.throughput, mode, dir, size);
  if (!in || !p) return std::nullopt;
  return cpu ? ratio(p->cpu_ns_per_packet(), in->cpu_ns_per_packet()) : ratio(p->pps(), in->pps());
}

std::vector<Ratio> isolation_ratios(const BenchResults& r) {
  std::vector<Ratio> out;
  for (size_t size : sizes_of(r.throughput)) {
    for (const char* dir : {"tx", "rx"}) {
      out.push_back({dir, size, vs_inproc(r, "process", dir, size, false), vs_inproc(r, "process", dir, size, true),
                     vs_inproc(r, "sfi", dir, size, false), vs_inproc(r, "sfi", dir, size, true)});
    }
  }
  return out;
}

// One ratio of isolation_ratios() in the worse direction at a frame size (the lower, or with higher_is_worse the
// higher); none if a direction is missing, which is no pass.
std::optional<double> worst_ratio(const BenchResults& r, size_t size, std::optional<double> Ratio::*field,
                                  bool higher_is_worse) {
  std::optional<double> w;
  for (const auto& x : isolation_ratios(r)) {
    if (x.frame_size != size) continue;
    const auto v = x.*field;
    if (!v) return std::nullopt;
    if (!w || (higher_is_worse ? *v > *w : *v < *w)) w = v;
  }
  return w;
}

// The modes measured, in the order of bench::bench_modes().
std::vector<bench::BenchMode> modes_in(const BenchResults& r) {
  std::vector<bench::BenchMode> out;
  for (const auto& m : bench::bench_modes()) {
    for (const auto& p : r.throughput) {
      if (p.isolation == m.name) {
        out.push_back(m);
        break;
      }
    }
  }
  return out;
}

struct RelayFraction {
  std::string mode, direction;
  size_t frame_size;
  std::optional<double> throughput;  // the mode's packet rate / the relay's
};

std::vector<RelayFraction> relay_fractions(const BenchResults& r) {
  std::vector<RelayFraction> out;
  for (size_t size : sizes_of(r.throughput)) {
    for (const char* dir : {"tx", "rx"}) {
      const auto* relay = find(r.throughput, "relay", dir, size);
      for (const auto& m : modes_in(r)) {
        if (!m.driver) continue;
        const auto* p = find(r.throughput, m.name, dir, size);
        out.push_back({m.name, dir, size, p && relay ? ratio(p->pps(), relay->pps()) : std::nullopt});
      }
    }
  }
  return out;
}

std::optional<double> relay_fraction(const BenchResults& r, const std::string& mode, const std::string& dir,
                                     size_t size) {
  for (const auto& f : relay_fractions(r)) {
    if (f.mode == mode && f.direction == dir && f.frame_size == size) return f.throughput;
  }
  return std::nullopt;
}

struct OptRatio {
  std::string optimisation, direction;
  size_t frame_size;
  std::optional<double> throughput;  // with / without
};

std::vector<OptRatio> optimisation_ratios(const BenchResults& r) {
  std::vector<OptRatio> out;
  for (size_t size : sizes_of(r.optimisations)) {
    for (const char* dir : {"tx", "rx"}) {
      for (const char* opt : {"streamlined", "batched", "pretranslation"}) {
        OptRatio x{opt, dir, size, std::nullopt};
        const auto* with = find(r.throughput, "process", dir, size);
        const auto* without = find(r.optimisations, "process", dir, size, opt);
        if (with && without) x.throughput = ratio(with->pps(), without->pps());
        out.push_back(x);
      }
    }
  }
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The probe times of one isolation's throughput runs (each point is a fresh driver life).
std::vector<double> probes(const BenchResults& r, const std::string& isolation) {
  std::vector<double> v;
  for (const auto& p : r.throughput) {
    if (p.isolation == isolation && p.probe_ms > 0) v.push_back(p.probe_ms);
  }
  return v;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

struct Step {
  const char* name;
  double supervisor::RecoveryTimings::*field;
  const char* what;
};
const Step kSteps[] = {
    {"mark", &supervisor::RecoveryTimings::mark_ms, "mark the domain failed; stop sending it work"},
    {"stop", &supervisor::RecoveryTimings::stop_ms, "kill the domain process"},
    {"wait", &supervisor::RecoveryTimings::wait_ms, "wait until it is gone"},
    {"free", &supervisor::RecoveryTimings::free_ms, "quiesce the device, drop DMA mappings, retarget the IOMMU"},
    {"unregister", &supervisor::RecoveryTimings::unregister_ms, "detach the old driver's interfaces"},
    {"reload", &supervisor::RecoveryTimings::reload_ms, "take a fresh domain with the driver loaded"},
    {"restart", &supervisor::RecoveryTimings::restart_ms, "attach, probe, replay configuration, open"},
    {"total", &supervisor::RecoveryTimings::total_ms, "from detection to the restarted driver open"},
    // Where the time goes around and inside those steps (recoverable_domain.h, RecoveryTimings):
    {"detect", &supervisor::RecoveryTimings::detect_ms, "from the kill until recovery began"},
    {"probe", &supervisor::RecoveryTimings::probe_ms, "of restart: attach and probe"},
    {"configure", &supervisor::RecoveryTimings::configure_ms, "of restart: configuration replayed"},
    {"open", &supervisor::RecoveryTimings::open_ms, "of restart: open"},
    {"link", &supervisor::RecoveryTimings::link_ms, "after the restart: until the new driver's carrier is on"},
    {"first_frame", &supervisor::RecoveryTimings::first_frame_ms, "after the restart: until a frame went through"},
    {"flowing", &supervisor::RecoveryTimings::flowing_ms, "from the kill to traffic flowing again"},
};

// One step's figures over the recoveries that measured it (a negative figure was not measured).
std::vector<double> step_values(const std::vector<supervisor::RecoveryTimings>& recoveries, const Step& s) {
  std::vector<double> v;
  for (const auto& x : recoveries) {
    if (x.*(s.field) >= 0) v.push_back(x.*(s.field));
  }
  return v;
}

struct Goal {
  std::string name, target;
  std::optional<double> measured;
  bool met = false;
  std::string unit;
};

// TCP through the TAP (isolated/in-process, iperf3) and recovery (kill -> traffic flowing, median and p99).
void add_tcp_and_recovery_goals(const BenchResults& r, std::vector<Goal>& g) {
  const bench::TcpPoint *in = nullptr, *iso = nullptr;
  for (const auto& t : r.tcp) {
    if (!t.error.empty()) continue;
    if (t.isolation == "inproc") in = &t;
    if (t.isolation == "process") iso = &t;
  }
  std::optional<double> tcp = in && iso ? ratio(iso->receiver_gbps, in->receiver_gbps) : std::nullopt;
  g.push_back({"isolated/in-process TCP throughput (iperf3 through the TAP)", ">= 0.95", tcp, tcp && *tcp >= 0.95, ""});
  // From the kill until a frame went through the new driver (flowing_ms), not only until it was open (total_ms). A
  // recovery whose traffic never resumed has no flowing time: the goal is then not met, whatever the others did.
  std::vector<double> flowing;
  for (const auto& x : r.recovery.recoveries)
    if (x.flowing_ms >= 0) flowing.push_back(x.flowing_ms);
  const bool all_flowed = flowing.size() == r.recovery.recoveries.size();
  std::optional<double> med, p99;
  if (!flowing.empty()) {
    med = median(flowing);
    p99 = percentile(flowing, 0.99);
  }
  g.push_back({"recovery, kill to traffic flowing (median)", "<= 10", med, all_flowed && med && *med <= 10, "ms"});
  g.push_back({"recovery, kill to traffic flowing (p99)", "<= 20", p99, all_flowed && p99 && *p99 <= 20, "ms"});
}

// The sfi goals (issue #17), on the worse direction at 64 B: throughput >= 0.95 and CPU per packet <= 1.15 of
// in-process.
void add_sfi_goals(const BenchResults& r, std::vector<Goal>& g) {
  const auto t = worst_ratio(r, 60, &Ratio::sfi_throughput, false), c = worst_ratio(r, 60, &Ratio::sfi_cpu, true);
  g.push_back({"sfi/in-process throughput at 64 B (worse direction)", ">= 0.95", t, t && *t >= 0.95, ""});
  g.push_back({"sfi/in-process CPU per packet at 64 B (worse direction)", "<= 1.15", c, c && *c <= 1.15, ""});
}

std::vector<Goal> goals(const BenchResults& r) {
  std::vector<Goal> g;
  auto at_least = [](std::optional<double> v, double t) { return v && *v >= t; };
  auto at_most = [](std::optional<double> v, double t) { return v && *v <= t; };
  const auto t64 = worst_ratio(r, 60, &Ratio::throughput, false);
  const auto t1518 = worst_ratio(r, 1514, &Ratio::throughput, false), c64 = worst_ratio(r, 60, &Ratio::cpu, true);
  g.push_back({"isolated/in-process throughput at 64 B (worse direction)", ">= 0.97", t64, at_least(t64, 0.97), ""});
  g.push_back(
      {"isolated/in-process throughput at 1518 B (worse direction)", ">= 0.99", t1518, at_least(t1518, 0.99), ""});
  g.push_back({"isolated/in-process CPU per packet at 64 B (worse direction)", "<= 1.10", c64, at_most(c64, 1.10), ""});
  std::optional<double> mpps;
  for (const char* dir : {"tx", "rx"}) {
    const auto* p = find(r.throughput, "process", dir, 60);
    if (!p) {
      mpps.reset();
      break;
    }
    double v = p->pps() / 1e6;
    if (!mpps || v < *mpps) mpps = v;
  }
  g.push_back({"isolated packet rate at 64 B (worse direction)", ">= 1.49", mpps, at_least(mpps, 1.49), "Mpps"});
  // Traps on the hot path: the most trapped device accesses per packet of any isolated point (the driver's
  // 2-second watchdog may still trap now and then; per packet that is negligible, a trap per frame is not).
  std::optional<double> traps;
  for (const auto& p : r.throughput) {
    if (p.isolation != "process" || !p.error.empty() || !p.packets) continue;
    double v = static_cast<double>(p.traps) / static_cast<double>(p.packets);
    if (!traps || v > *traps) traps = v;
  }
  g.push_back(
      {"trapped device accesses per packet, isolated (worst point)", "< 0.001", traps, traps && *traps < 0.001, ""});
  std::optional<double> probe;
  if (auto v = probes(r, "process"); !v.empty()) probe = median(v);
  g.push_back({"e1000 probe, isolated (median)", "<= 5", probe, at_most(probe, 5), "ms"});
  add_tcp_and_recovery_goals(r, g);
  add_sfi_goals(r, g);
  return g;
}

void json_point(Json& j, const ThroughputPoint& p) {
  j.object_begin();
  j.field("isolation", p.isolation).field("direction", p.direction);
  j.field("frame_size", static_cast<uint64_t>(p.wire_bytes()));
  j.field("disabled", p.disabled).field("ok", p.error.empty());
  if (!p.error.empty()) j.field("error", p.error);
  j.field("seconds", p.seconds).field("packets", p.packets).field("bytes", p.bytes);
  j.field("pps", p.pps()).field("gbps", p.gbps());
  j.field("cpu_supervisor_s", p.cpu_supervisor_s).field("cpu_domain_s", p.cpu_domain_s);
  j.field("cpu_ns_per_packet", p.cpu_ns_per_packet()).field("probe_ms", p.probe_ms);
  j.field("traps", p.traps).field("direct_device_accesses", p.direct_accesses);
  j.field("traps_per_packet", p.packets ? static_cast<double>(p.traps) / static_cast<double>(p.packets) : 0.0);
  if (p.error.empty()) {
    j.field("runs", static_cast<uint64_t>(p.runs)).field("pps_min", p.pps_min).field("pps_max", p.pps_max);
    j.field("cpu_ns_per_packet_min", p.cpu_min).field("cpu_ns_per_packet_max", p.cpu_max);
  }
  j.object_end();
}

using cli::fmt;  // the one for a figure that may be missing (report_values.h), beside this one for a measured value

std::string fmt(const char* f, double v) {
  if (std::isnan(v)) return "n/a";
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

void json_machine(Json& j, const BenchResults& r) {
  j.key("machine").object_begin();
  j.field("cpu", r.machine.cpu_model).field("cpus", r.machine.cpus);
  j.field("memory_gib", static_cast<double>(r.machine.memory_bytes) / (1ull << 30));
  j.field("kernel", r.machine.kernel).field("os", r.machine.os).field("hypervisor", r.machine.hypervisor);
  j.field("compiler", r.machine.compiler).field("date_utc", r.machine.date_utc);
  j.object_end();
}

void json_isolation_ratios(Json& j, const BenchResults& r) {
  j.key("ratios").array_begin();
  for (const auto& x : isolation_ratios(r)) {
    j.object_begin();
    j.field("direction", x.direction).field("frame_size", static_cast<uint64_t>(x.frame_size + 4));
    json_optional(j, "throughput", x.throughput);
    json_optional(j, "cpu_per_packet", x.cpu);
    json_optional(j, "sfi_throughput", x.sfi_throughput);
    json_optional(j, "sfi_cpu_per_packet", x.sfi_cpu);
    j.object_end();
  }
  j.array_end();
}

void json_relay_fractions(Json& j, const BenchResults& r) {
  j.key("relay_fractions").array_begin();
  for (const auto& f : relay_fractions(r)) {
    j.object_begin();
    j.field("isolation", f.mode).field("direction", f.direction);
    j.field("frame_size", static_cast<uint64_t>(f.frame_size + 4));
    json_optional(j, "throughput", f.throughput);
    j.object_end();
  }
  j.array_end();
}

void json_optimisation_ratios(Json& j, const BenchResults& r) {
  j.key("optimisation_ratios").array_begin();
  for (const auto& x : optimisation_ratios(r)) {
    j.object_begin();
    j.field("optimisation", x.optimisation).field("direction", x.direction);
    j.field("frame_size", static_cast<uint64_t>(x.frame_size + 4));
    json_optional(j, "throughput_with_over_without", x.throughput);
    j.object_end();
  }
  j.array_end();
}

void json_latency(Json& j, const BenchResults& r) {
  j.key("latency").array_begin();
  for (const auto& l : r.latency) {
    j.object_begin();
    j.field("isolation", l.isolation).field("frame_size", static_cast<uint64_t>(l.frame_size + 4));
    j.field("ok", l.error.empty());
    if (!l.error.empty()) j.field("error", l.error);
    j.field("samples", l.samples).field("lost", l.lost);
    j.field("min_us", l.min_us).field("p50_us", l.p50_us).field("p90_us", l.p90_us).field("p99_us", l.p99_us);
    j.field("max_us", l.max_us).field("mean_us", l.mean_us);
    j.object_end();
  }
  j.array_end();
}

void json_tcp(Json& j, const BenchResults& r) {
  j.key("tcp").array_begin();
  for (const auto& t : r.tcp) {
    j.object_begin();
    j.field("isolation", t.isolation).field("ok", t.error.empty());
    if (!t.error.empty()) j.field("error", t.error);
    j.field("seconds", t.seconds).field("sender_gbps", t.sender_gbps).field("receiver_gbps", t.receiver_gbps);
    j.field("retransmits", t.retransmits).field("iperf3_host_cpu_percent", t.host_cpu_percent);
    j.object_end();
  }
  j.array_end();
}

void json_recovery(Json& j, const BenchResults& r) {
  j.key("recovery").object_begin();
  j.field("requested", r.recovery.requested).field("count", static_cast<uint64_t>(r.recovery.recoveries.size()));
  j.field("ok", r.recovery.error.empty());
  if (!r.recovery.error.empty()) j.field("error", r.recovery.error);
  uint64_t failed = 0;
  for (const auto& x : r.recovery.recoveries) failed += x.ok ? 0 : 1;
  j.field("failed", failed).field("frames_lost", r.recovery.frames_lost);
  j.field("frames_verified", r.recovery.frames_verified);
  j.key("steps_ms").object_begin();
  for (const auto& s : kSteps) {
    const std::vector<double> v = step_values(r.recovery.recoveries, s);
    // No recovery timed: no figure (null), not a zero that reads as a measurement.
    auto figure = [&](auto compute) { return v.empty() ? std::nullopt : std::optional<double>(compute()); };
    j.key(s.name).object_begin();
    json_optional(j, "median", figure([&] { return median(v); }));
    json_optional(j, "p99", figure([&] { return percentile(v, 0.99); }));
    json_optional(j, "max", figure([&] { return *std::max_element(v.begin(), v.end()); }));
    j.object_end();
  }
  j.object_end();
  j.object_end();
}

void json_probe(Json& j, const BenchResults& r) {
  j.key("probe_ms").object_begin();
  const auto probe_inproc = probes(r, "inproc"), probe_process = probes(r, "process");
  json_optional(j, "inproc_median", probe_inproc.empty() ? std::nullopt : std::optional<double>(median(probe_inproc)));
  json_optional(j, "process_median",
                probe_process.empty() ? std::nullopt : std::optional<double>(median(probe_process)));
  j.object_end();
}

void json_goals(Json& j, const BenchResults& r) {
  j.key("goals").array_begin();
  for (const auto& g : goals(r)) {
    j.object_begin();
    j.field("goal", g.name).field("target", g.target + (g.unit.empty() ? "" : " " + g.unit));
    json_optional(j, "measured", g.measured);
    j.field("met", g.met);
    j.object_end();
  }
  j.array_end();
}

// The report being written, a line at a time.
struct Markdown {
  std::string text;
  void line(const std::string& s) { text += s + "\n"; }
};

// What was measured, how, and on what machine.
void md_header(Markdown& md, const BenchResults& r) {
  md.line(std::string("# side bench") + (r.quick ? " (quick)" : ""));
  md.line("");
  md.line(
      "Debian's unmodified `e1000.ko` (Linux 6.1) on side's emulated Intel 82540EM, in-process (the unisolated "
      "baseline) against isolated (its own sandboxed domain process), with a no-driver relay as the ceiling of the "
      "frame path, measured side by side in one run of " +
      fmt("%.0f", r.elapsed_s) +
      " s. Frame sizes include the FCS; Gbit/s counts frame bytes with FCS. CPU is the "
      "CPU time of every process involved (side, which also runs the emulated NIC and the traffic peer, and the "
      "domain) per packet.");
  md.line("");
  md.line("**Machine:** " + r.machine.cpu_model + ", " + std::to_string(r.machine.cpus) + " CPUs, " +
          fmt("%.0f", static_cast<double>(r.machine.memory_bytes) / (1ull << 30)) + " GiB" +
          (r.machine.hypervisor.empty() ? "" : " (" + r.machine.hypervisor + ")") + "; " + r.machine.os + ", kernel " +
          r.machine.kernel + "; " + r.machine.compiler + "; " + r.machine.date_utc + ".");
  md.line("");
}

void md_goals(Markdown& md, const BenchResults& r) {
  md.line("## Goals");
  md.line("");
  md.line("| goal | target | measured | met |");
  md.line("|---|---|---|---|");
  for (const auto& g : goals(r)) {
    md.line("| " + g.name + " | " + g.target + (g.unit.empty() ? "" : " " + g.unit) + " | " + fmt("%.3f", g.measured) +
            " | " + (g.met ? "yes" : "**no**") + " |");
  }
}

// A median figure with the spread of its repeats: "1043000 (998000-1101000)".
std::string with_spread(const char* f, double median_value, double lo, double hi, unsigned runs) {
  std::string s = fmt(f, median_value);
  if (runs > 1) s += " (" + fmt(f, lo) + "-" + fmt(f, hi) + ")";
  return s;
}

// The cell of a point with no figure: it failed, or it was not measured (--quick measures sfi only at 64 B).
std::string no_figure(const BenchResults& r, const std::string& mode, const std::string& dir, size_t size) {
  for (const auto& p : r.throughput) {
    if (p.isolation == mode && p.direction == dir && p.frame_size == size) return "failed";
  }
  return "not measured";
}

// The driver modes a table compares with in-process: every one but in-process itself.
std::vector<bench::BenchMode> against_inproc(const std::vector<bench::BenchMode>& modes) {
  std::vector<bench::BenchMode> out;
  for (const auto& m : modes) {
    if (m.driver && m.name != "inproc") out.push_back(m);
  }
  return out;
}

// The header of a table with one column per mode, then `extra` columns.
void md_mode_header(Markdown& md, const std::vector<bench::BenchMode>& modes, const std::vector<std::string>& extra) {
  std::string head = "| frame | dir |", rule = "|---|---|";
  for (const auto& m : modes) {
    head += " " + m.label + " |";
    rule += "---|";
  }
  for (const auto& e : extra) {
    head += " " + e + " |";
    rule += "---|";
  }
  md.line(head);
  md.line(rule);
}

// Packets per second of every mode at each point (median, min-max of the repeats), each driver mode against the
// baseline and as a fraction of the relay.
void md_packet_rates(Markdown& md, const BenchResults& r, const std::vector<bench::BenchMode>& modes) {
  std::vector<std::string> extra;
  for (const auto& m : against_inproc(modes)) extra.push_back(m.label + " / in-process");
  for (const auto& m : modes) {
    if (m.driver) extra.push_back(m.label + " / relay");
  }
  md_mode_header(md, modes, extra);
  for (const auto& x : isolation_ratios(r)) {
    std::string row = "| " + std::to_string(x.frame_size + 4) + " | " + x.direction + " |";
    for (const auto& m : modes) {
      const auto* p = find(r.throughput, m.name, x.direction, x.frame_size);
      row += " " +
             (p ? with_spread("%.0f", p->pps(), p->pps_min, p->pps_max, p->runs)
                : no_figure(r, m.name, x.direction, x.frame_size)) +
             " |";
    }
    for (const auto& m : against_inproc(modes)) {
      row += " " + fmt("%.3f", vs_inproc(r, m.name, x.direction, x.frame_size, false)) + " |";
    }
    for (const auto& m : modes) {
      if (m.driver) row += " " + fmt("%.3f", relay_fraction(r, m.name, x.direction, x.frame_size)) + " |";
    }
    md.line(row);
  }
}

// CPU time per packet of every mode (an isolated point's split between side and the domain), and the CPU ratio.
void md_cpu(Markdown& md, const BenchResults& r, const std::vector<bench::BenchMode>& modes) {
  std::vector<std::string> extra;
  for (const auto& m : against_inproc(modes)) extra.push_back(m.label + " / in-process");
  extra.push_back("isolated Gbit/s");
  md_mode_header(md, modes, extra);
  for (const auto& x : isolation_ratios(r)) {
    std::string row = "| " + std::to_string(x.frame_size + 4) + " | " + x.direction + " |";
    for (const auto& m : modes) {
      const auto* p = find(r.throughput, m.name, x.direction, x.frame_size);
      std::string cell = p ? with_spread("%.0f", p->cpu_ns_per_packet(), p->cpu_min, p->cpu_max, p->runs)
                           : no_figure(r, m.name, x.direction, x.frame_size);
      if (p && p->cpu_domain_s > 0) {
        const double n = static_cast<double>(p->packets);
        cell += ", " + fmt("%.0f", p->cpu_supervisor_s * 1e9 / n) + " + " + fmt("%.0f", p->cpu_domain_s * 1e9 / n);
      }
      row += " " + cell + " |";
    }
    for (const auto& m : against_inproc(modes)) {
      row += " " + fmt("%.3f", vs_inproc(r, m.name, x.direction, x.frame_size, true)) + " |";
    }
    const auto* iso = find(r.throughput, "process", x.direction, x.frame_size);
    row += " " + (iso ? fmt("%.3f", iso->gbps()) : "failed") + " |";
    md.line(row);
  }
}

// Each frame size and direction in every mode, then the points that failed.
void md_throughput(Markdown& md, const BenchResults& r) {
  const auto modes = modes_in(r);
  md.line("");
  md.line("## Throughput and CPU per packet");
  md.line("");
  md.line(
      "Each figure is the median of its repeats, with their range (min-max) in brackets. The relay moves the same "
      "frames across the same peer with no driver and no device model: the supervisor's thread copies each frame "
      "through one shared ring (bench/frame_relay.h), the least a frame crossing costs here, so a mode's fraction "
      "of it says how close the mode comes to the ceiling of this path on this machine.");
  md.line("");
  md.line("Packets per second:");
  md.line("");
  md_packet_rates(md, r, modes);
  md.line("");
  md.line("CPU ns per packet (isolated: side + domain):");
  md.line("");
  md_cpu(md, r, modes);
  for (const auto* list : {&r.throughput, &r.optimisations}) {
    for (const auto& p : *list) {
      if (!p.error.empty()) {
        md.line("");
        md.line("Failed: " + p.isolation + " " + p.direction + " " + std::to_string(p.wire_bytes()) + " B" +
                (p.disabled.empty() ? "" : " without " + p.disabled) + ": " + p.error);
      }
    }
  }
}

void md_plots(Markdown& md, const std::vector<std::string>& plots) {
  for (const auto& p : plots) {
    md.line("");
    md.line("![" + p + "](" + p + ")");
  }
}

void md_optimisations(Markdown& md, const BenchResults& r) {
  if (!r.optimisations.empty()) {
    md.line("");
    md.line("## Optimisations (SIDE's Table V)");
    md.line("");
    md.line(
        "Isolated throughput with every optimisation on, divided by the throughput with one switched off "
        "(`side run --disable NAME`). Above 1: the optimisation helps.");
    md.line("");
    md.line("| frame | dir | streamlined crossing | batched submit | DMA pre-translation |");
    md.line("|---|---|---|---|---|");
    auto ratios = optimisation_ratios(r);
    for (size_t i = 0; i + 2 < ratios.size(); i += 3) {
      md.line("| " + std::to_string(ratios[i].frame_size + 4) + " | " + ratios[i].direction + " | " +
              fmt("%.2f", ratios[i].throughput) + " | " + fmt("%.2f", ratios[i + 1].throughput) + " | " +
              fmt("%.2f", ratios[i + 2].throughput) + " |");
    }
  }
}

void md_latency(Markdown& md, const BenchResults& r) {
  if (!r.latency.empty()) {
    md.line("");
    md.line("## Request/response latency");
    md.line("");
    md.line(
        "One exchange in flight: the peer sends a frame into the NIC, the host answers it through the driver, the "
        "peer takes the round trip.");
    md.line("");
    md.line("| frame | isolation | exchanges | p50 µs | p90 µs | p99 µs | max µs |");
    md.line("|---|---|---|---|---|---|---|");
    for (const auto& l : r.latency) {
      if (!l.error.empty()) {
        md.line("| " + std::to_string(l.frame_size + 4) + " | " + l.isolation + " | failed: " + l.error + " | | | | |");
        continue;
      }
      md.line("| " + std::to_string(l.frame_size + 4) + " | " + l.isolation + " | " + std::to_string(l.samples) +
              " | " + fmt("%.1f", l.p50_us) + " | " + fmt("%.1f", l.p90_us) + " | " + fmt("%.1f", l.p99_us) + " | " +
              fmt("%.1f", l.max_us) + " |");
    }
  }
}

void md_tcp(Markdown& md, const BenchResults& r) {
  if (!r.tcp.empty()) {
    std::optional<double> relay;
    for (const auto& t : r.tcp) {
      if (t.isolation == "relay" && t.error.empty()) relay = t.receiver_gbps;
    }
    md.line("");
    md.line("## TCP through the TAP (iperf3)");
    md.line("");
    md.line("| mode | seconds | received Gbit/s | / relay | retransmits | iperf3 host CPU % |");
    md.line("|---|---|---|---|---|---|");
    for (const auto& t : r.tcp) {
      const auto* m = bench::find_mode(t.isolation);
      const std::string label = m ? m->label : t.isolation;
      if (!t.error.empty()) {
        md.line("| " + label + " | " + t.error + " | | | | |");
        continue;
      }
      md.line("| " + label + " | " + fmt("%.0f", t.seconds) + " | " + fmt("%.3f", t.receiver_gbps) + " | " +
              fmt("%.3f", relay ? ratio(t.receiver_gbps, *relay) : std::nullopt) + " | " +
              std::to_string(t.retransmits) + " | " + fmt("%.0f", t.host_cpu_percent) + " |");
    }
  }
}

void md_recovery(Markdown& md, const BenchResults& r) {
  if (r.recovery.requested) {
    md.line("");
    md.line("## Recovery (SIDE's Table VI)");
    md.line("");
    uint64_t failed = 0;
    for (const auto& x : r.recovery.recoveries) failed += x.ok ? 0 : 1;
    md.line(std::to_string(r.recovery.recoveries.size()) + " of " + std::to_string(r.recovery.requested) +
            " requested recoveries (SIGKILL of the domain under traffic), " + std::to_string(failed) +
            " failed; frames lost in flight: " + std::to_string(r.recovery.frames_lost) + " of " +
            std::to_string(r.recovery.frames_verified + r.recovery.frames_lost) + "." +
            (r.recovery.error.empty() ? "" : " Error: " + r.recovery.error));
    md.line("");
    md.line("| step | what | median ms | p99 ms | max ms |");
    md.line("|---|---|---|---|---|");
    for (const auto& s : kSteps) {
      const std::vector<double> v = step_values(r.recovery.recoveries, s);
      md.line(std::string("| ") + s.name + " | " + s.what + " | " + fmt("%.2f", median(v)) + " | " +
              fmt("%.2f", percentile(v, 0.99)) + " | " +
              fmt("%.2f", v.empty() ? NAN : *std::max_element(v.begin(), v.end())) + " |");
    }
  }
}

void md_probe(Markdown& md, const BenchResults& r) {
  if (const auto in = probes(r, "inproc"), iso = probes(r, "process"); !in.empty() || !iso.empty()) {
    md.line("");
    md.line("Probe of the e1000 (median over the throughput runs): in-process " + fmt("%.1f", median(in)) +
            " ms, isolated " + fmt("%.1f", median(iso)) + " ms.");
  }
}

}  // namespace

std::string bench_json(const BenchResults& r) {
  Json j;
  j.object_begin().field("schema", kBenchSchema);
  json_machine(j, r);
  j.field("quick", r.quick).field("elapsed_s", r.elapsed_s);
  j.key("throughput").array_begin();
  for (const auto& p : r.throughput) json_point(j, p);
  j.array_end();
  json_isolation_ratios(j, r);
  json_relay_fractions(j, r);
  j.key("optimisations").array_begin();
  for (const auto& p : r.optimisations) json_point(j, p);
  j.array_end();
  json_optimisation_ratios(j, r);
  json_latency(j, r);
  json_tcp(j, r);
  json_recovery(j, r);
  json_probe(j, r);
  json_goals(j, r);
  j.object_end();
  return j.str() + "\n";
}

std::string bench_markdown(const BenchResults& r, const std::vector<std::string>& plots) {
  Markdown md;
  md_header(md, r);
  md_goals(md, r);
  md_throughput(md, r);
  md_plots(md, plots);
  md_optimisations(md, r);
  md_latency(md, r);
  md_tcp(md, r);
  md_recovery(md, r);
  md_probe(md, r);
  return md.text;
}

}  // namespace side::cli
