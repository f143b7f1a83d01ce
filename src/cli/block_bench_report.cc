#include "cli/block_bench_report.h"

#include <cmath>
#include <cstdio>
#include <optional>

#include "cli/json.h"
#include "cli/report_values.h"

namespace side::cli {
namespace {

using bench::BlockBenchResults;
using bench::BlockPoint;
using bench::request_size_label;

// What the CPU figures count, in the JSON and the report alike.
constexpr char kCpuCounted[] =
    "user+system CPU time over the window of side's whole process (the supervisor, the request generator and, "
    "in-process, the driver's threads; its QEMU vfio-user client), the domain process (isolated only) and the QEMU "
    "process serving virtio-blk-pci, from the kernel's per-process CPU clocks (clock_getcpuclockid), per completed "
    "request; *_without_generator leaves out the generator thread (filling writes and checking reads), which is "
    "the same work for both";

const BlockPoint* find(const BlockBenchResults& r, const std::string& iso, const std::string& op, uint32_t size,
                       uint32_t depth) {
  for (const auto& p : r.points) {
    if (p.isolation == iso && p.op == op && p.request_bytes == size && p.depth == depth && p.error.empty()) return &p;
  }
  return nullptr;
}

struct Ratio {
  std::string op;
  uint32_t size = 0, depth = 0;
  std::optional<double> throughput, cpu, cpu_without_generator;
};

// Isolated over in-process, for every (op, size, depth) measured, in the order they were.
std::vector<Ratio> ratios(const BlockBenchResults& r) {
  std::vector<Ratio> out;
  for (const auto& p : r.points) {
    if (p.isolation != "inproc") continue;
    Ratio x{p.op, p.request_bytes, p.depth, std::nullopt, std::nullopt, std::nullopt};
    const auto* in = find(r, "inproc", p.op, p.request_bytes, p.depth);
    const auto* iso = find(r, "process", p.op, p.request_bytes, p.depth);
    if (in && iso) {
      x.throughput = ratio(iso->iops(), in->iops());
      x.cpu = ratio(iso->cpu_us_per_request(), in->cpu_us_per_request());
      x.cpu_without_generator =
          ratio(iso->cpu_us_per_request_without_generator(), in->cpu_us_per_request_without_generator());
    }
    out.push_back(x);
  }
  return out;
}

void json_point(Json& j, const BlockPoint& p) {
  const bool ok = p.error.empty();
  auto figure = [&](double v) { return ok ? std::optional<double>(v) : std::nullopt; };
  j.object_begin().field("isolation", p.isolation).field("op", p.op).field("request_bytes", p.request_bytes);
  j.field("depth", p.depth).field("ok", ok);
  if (!ok) j.field("error", p.error);
  j.field("requests", p.requests).field("bytes", p.bytes).field("blocks_verified", p.blocks_verified);
  json_optional(j, "seconds", figure(p.seconds));
  json_optional(j, "iops", figure(p.iops()));
  json_optional(j, "mb_per_s", figure(p.mbps()));
  json_optional(j, "cpu_supervisor_s", figure(p.cpu_supervisor_s));
  json_optional(j, "cpu_domain_s", figure(p.cpu_domain_s));
  json_optional(j, "cpu_qemu_s", figure(p.cpu_qemu_s));
  json_optional(j, "cpu_generator_s", figure(p.cpu_generator_s));
  json_optional(j, "cpu_us_per_request", figure(p.cpu_us_per_request()));
  json_optional(j, "cpu_us_per_request_without_generator", figure(p.cpu_us_per_request_without_generator()));
  json_optional(j, "probe_ms", p.probe_ms > 0 ? std::optional<double>(p.probe_ms) : std::nullopt);
  j.object_end();
}

}  // namespace

std::string block_bench_json(const BlockBenchResults& r) {
  Json j;
  j.object_begin().field("schema", "side-bench/1").field("class", "block");
  j.key("machine").object_begin();
  j.field("cpu", r.machine.cpu_model).field("cpus", r.machine.cpus);
  j.field("memory_gib", static_cast<double>(r.machine.memory_bytes) / (1ull << 30));
  j.field("kernel", r.machine.kernel).field("os", r.machine.os).field("hypervisor", r.machine.hypervisor);
  j.field("compiler", r.machine.compiler).field("date_utc", r.machine.date_utc);
  j.object_end();
  j.field("quick", r.quick).field("elapsed_s", r.elapsed_s).field("module", r.module).field("device", r.device);
  j.field("disk_bytes", r.disk_bytes).field("direct_io", true).field("warmup_s", r.warmup_s);
  j.field("window_s", r.window_s).field("repeats", r.repeats).field("cpu_counted", std::string(kCpuCounted));
  json_optional(j, "load_before", r.load_before >= 0 ? std::optional<double>(r.load_before) : std::nullopt);
  json_optional(j, "load_after", r.load_after >= 0 ? std::optional<double>(r.load_after) : std::nullopt);
  j.key("points").array_begin();
  for (const auto& p : r.points) json_point(j, p);
  j.array_end();
  j.key("ratios").array_begin();
  for (const auto& x : ratios(r)) {
    j.object_begin().field("op", x.op).field("request_bytes", x.size).field("depth", x.depth);
    json_optional(j, "throughput", x.throughput);
    json_optional(j, "cpu_per_request", x.cpu);
    json_optional(j, "cpu_per_request_without_generator", x.cpu_without_generator);
    j.object_end();
  }
  j.array_end().object_end();
  return j.str() + "\n";
}

namespace {

struct Markdown {
  std::string text;
  void line(const std::string& s) { text += s + "\n"; }
};

void md_header(Markdown& md, const BlockBenchResults& r) {
  md.line(std::string("# side bench --class block") + (r.quick ? " (quick)" : ""));
  md.line("");
  md.line("Debian's unmodified `" + r.module +
          ".ko` (Linux 6.1) on QEMU's virtio-blk-pci (over vfio-user), in-process "
          "(the unisolated baseline: the same session, the driver in side's own process) against isolated (its own "
          "sandboxed domain process), side by side in one run of " +
          fmt("%.0f", r.elapsed_s) +
          " s: Leslie & Heiser's figures 2 and 3 for disks. side itself issues the "
          "requests, through the path its NBD and FUSE exports take, at random places aligned to their size in a " +
          std::to_string(r.disk_bytes >> 20) +
          " MiB temporary image that QEMU reads and writes with O_DIRECT (no host page cache between the device and "
          "the file). The image is filled with a pattern first; every read is checked against it word for word. "
          "Each size and queue depth is one fresh driver life per isolation (in-process first, isolated right "
          "after), timing " +
          fmt("%.2f", r.window_s) + " s of writes then " + fmt("%.2f", r.window_s) + " s of reads after " +
          fmt("%.2f", r.warmup_s) + " s of warm-up each" +
          (r.repeats > 1 ? ", the median of " + std::to_string(r.repeats) + " runs" : "") + ". MB is 10^6 bytes.");
  md.line("");
  md.line(std::string("**CPU counted:** ") + kCpuCounted + ".");
  md.line("");
  md.line("**Machine:** " + r.machine.cpu_model + ", " + std::to_string(r.machine.cpus) + " CPUs, " +
          fmt("%.0f", static_cast<double>(r.machine.memory_bytes) / (1ull << 30)) + " GiB" +
          (r.machine.hypervisor.empty() ? "" : " (" + r.machine.hypervisor + ")") + "; " + r.machine.os + ", kernel " +
          r.machine.kernel + "; " + r.machine.compiler + "; " + r.machine.date_utc + "; load average " +
          fmt("%.1f", r.load_before >= 0 ? std::optional<double>(r.load_before) : std::nullopt) +
          " as the run started, " +
          fmt("%.1f", r.load_after >= 0 ? std::optional<double>(r.load_after) : std::nullopt) + " as it ended.");
  md.line("");
}

std::optional<double> iops_of(const BlockPoint* p) {
  return p ? std::optional<double>(p->iops()) : std::nullopt;
}

// Figure 2: throughput, in-process and isolated, and their ratio.
void md_throughput(Markdown& md, const BlockBenchResults& r) {
  md.line("## Throughput (figure 2)");
  md.line("");
  md.line(
      "| op | depth | size | in-process MB/s | isolated MB/s | in-process IOPS | isolated IOPS | isolated / in-process "
      "|");
  md.line("|---|---|---|---|---|---|---|---|");
  for (const auto& x : ratios(r)) {
    const auto* in = find(r, "inproc", x.op, x.size, x.depth);
    const auto* iso = find(r, "process", x.op, x.size, x.depth);
    auto mbps = [](const BlockPoint* p) { return p ? std::optional<double>(p->mbps()) : std::nullopt; };
    md.line("| " + x.op + " | " + std::to_string(x.depth) + " | " + request_size_label(x.size) + " | " +
            fmt("%.1f", mbps(in)) + " | " + fmt("%.1f", mbps(iso)) + " | " + fmt("%.0f", iops_of(in)) + " | " +
            fmt("%.0f", iops_of(iso)) + " | " + fmt("%.2f", x.throughput) + " |");
  }
  md.line("");
}

// Figure 3: CPU per request, and the ratios with and without the generator's share.
void md_cpu(Markdown& md, const BlockBenchResults& r) {
  md.line("## CPU per request (figure 3)");
  md.line("");
  md.line(
      "| op | depth | size | in-process us | isolated us (side + domain + QEMU) | ratio | ratio without the generator "
      "|");
  md.line("|---|---|---|---|---|---|---|");
  for (const auto& x : ratios(r)) {
    const auto* in = find(r, "inproc", x.op, x.size, x.depth);
    const auto* iso = find(r, "process", x.op, x.size, x.depth);
    auto cpu = [](const BlockPoint* p) { return p ? std::optional<double>(p->cpu_us_per_request()) : std::nullopt; };
    auto parts = [](const BlockPoint* p) {
      if (!p || !p->requests) return std::string();
      const double n = static_cast<double>(p->requests) / 1e6;
      return " (" + fmt("%.1f", p->cpu_supervisor_s / n) + " + " + fmt("%.1f", p->cpu_domain_s / n) + " + " +
             fmt("%.1f", p->cpu_qemu_s / n) + ")";
    };
    md.line("| " + x.op + " | " + std::to_string(x.depth) + " | " + request_size_label(x.size) + " | " +
            fmt("%.1f", cpu(in)) + " | " + fmt("%.1f", cpu(iso)) + parts(iso) + " | " + fmt("%.2f", x.cpu) + " | " +
            fmt("%.2f", x.cpu_without_generator) + " |");
  }
  md.line("");
}

}  // namespace

std::string block_bench_markdown(const BlockBenchResults& r, const std::vector<std::string>& plots) {
  Markdown md;
  md_header(md, r);
  md_throughput(md, r);
  md_cpu(md, r);
  bool any_failed = false;
  for (const auto& p : r.points) {
    if (p.error.empty()) continue;
    if (!any_failed) md.line("## Failed points\n");
    any_failed = true;
    md.line("- " + p.isolation + " " + p.op + " " + request_size_label(p.request_bytes) + " depth " +
            std::to_string(p.depth) + ": " + p.error);
  }
  if (any_failed) md.line("");
  if (!plots.empty()) {
    md.line("## Plots");
    md.line("");
    for (const auto& f : plots) md.line("![" + f + "](" + f + ")");
  }
  return md.text;
}

}  // namespace side::cli
