// side bench: see bench/benchmark.h for what is measured, bench_report.h for what is written.
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "bench/benchmark.h"
#include "bench/block_bench.h"
#include "cli/bench_report.h"
#include "cli/block_bench_report.h"
#include "cli/commands.h"
#include "cli/json.h"
#include "cli/progress.h"
#include "common/build_config.h"
#include "common/log.h"
#include "common/strings.h"
#include "devices/vfio_user/qemu_binary.h"

namespace side::cli {

void bench_usage(FILE* out) {
  std::fprintf(
      out,
      "usage: side bench [options]\n"
      "SIDE's evaluation on this machine: the unmodified e1000 in-process against isolated, side by side,\n"
      "with a no-driver relay (the same frames copied straight across by side) as the path's ceiling.\n"
      "  --class CLASS        net (default): the e1000 as below; block: Debian's virtio_blk on QEMU's\n"
      "                       virtio-blk-pci (an O_DIRECT temporary image), random reads and writes that\n"
      "                       side issues, checked: throughput and CPU per request, isolated against\n"
      "                       in-process, per request size and queue depth (Leslie & Heiser's figures 2, 3)\n"
      "  --quick              a reduced set for CI (64 and 1518 B, short windows): under two minutes;\n"
      "                       block: 4K and 64K requests, 0.5 s windows\n"
      "  --out DIR            write DIR/report.md, DIR/results.json and PNG plots (python3-matplotlib)\n"
      "  --json               print the results as JSON on stdout\n"
      "  --sections LIST      throughput,optimisations,latency,tcp,recovery (default: all)\n"
      "  --sizes LIST         frame sizes with FCS, e.g. 64,1518 (default 64,128,256,512,1024,1518);\n"
      "                       block: request sizes, multiples of 512 up to 1M (default 512,4K,16K,64K,256K,1M)\n"
      "  --depths LIST        block: queue depths, 1 to 32 (default 1,32)\n"
      "  --window S           measured seconds per throughput point (default 2; quick 0.5)\n"
      "  --repeats N          measure each throughput point N times, keep the median and show the\n"
      "                       range (default 3; quick: 3, Table V's points once)\n"
      "  --recoveries N       how many recoveries to time (default 100; quick 20)\n"
      "  --exchanges N        request/response round trips per latency point (default 10000)\n"
      "  --quiet              no progress line (shown on a terminal only: done/total, elapsed, estimate)\n"
      "TCP needs root (TAP interfaces) and iperf3. A line per measurement goes to stderr.\n");
}

namespace {

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out.flush());
}

// The plots, by the script next to side's sources (it names the files it wrote); none, and a note, if python3 or
// matplotlib is missing.
std::vector<std::string> plot(const std::string& json_path, const std::string& dir) {
  const char* env = std::getenv("SIDE_PLOT_SCRIPT");
  std::string script = env && *env ? env : SIDE_DEFAULT_PLOT_SCRIPT;
  std::string cmd = "/usr/bin/python3 '" + script + "' '" + json_path + "' '" + dir + "'";
  std::vector<std::string> files;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return files;
  char line[256];
  while (std::fgets(line, sizeof line, p)) {
    std::string name(line);
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
    if (!name.empty()) files.push_back(name);
  }
  int status = pclose(p);
  if (status != 0) {
    std::fprintf(stderr, "side bench: no plots (%s exited with %d; is python3-matplotlib installed?)\n", script.c_str(),
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return {};
  }
  return files;
}

// report.md, results.json and the plots in `dir`; 0, or 1 when a file cannot be written.
int write_outputs(const std::string& dir, const std::string& json,
                  const std::function<std::string(const std::vector<std::string>&)>& markdown) {
  mkdir(dir.c_str(), 0755);
  const std::string json_path = dir + "/results.json";
  if (!write_file(json_path, json)) {
    std::fprintf(stderr, "side bench: cannot write %s\n", json_path.c_str());
    return 1;
  }
  auto plots = plot(json_path, dir);
  if (!write_file(dir + "/report.md", markdown(plots))) {
    std::fprintf(stderr, "side bench: cannot write %s/report.md\n", dir.c_str());
    return 1;
  }
  std::fprintf(stderr, "side bench: wrote %s/report.md, results.json and %zu plots\n", dir.c_str(), plots.size());
  return 0;
}

// --class block: see bench/block_bench.h.
int block_bench_command(const BenchArgs& args) {
  auto o = bench::BlockBenchOptions::defaults(args.quick);
  if (!args.request_sizes.empty()) o.request_sizes = args.request_sizes;
  if (!args.depths.empty()) o.depths = args.depths;
  if (args.window > 0) o.window_s = args.window;
  if (args.repeats > 0) o.repeats = static_cast<unsigned>(args.repeats);
  auto qemu = vfio_user::find_qemu(/*build=*/true);  // the disk is QEMU's model, served over vfio-user
  if (!qemu) {
    std::fprintf(stderr, "side bench: %s\n", qemu.error().message.c_str());
    return 1;
  }
  o.qemu_binary = *qemu;
  Paths paths = Paths::from_environment();
  o.domain.kapi_path = paths.kapi;
  o.domain.symvers_path = paths.symvers;
  o.domain.modules_dir = paths.modules_dir;
  ProgressLine progress("side bench", ProgressLine::wanted(args.quiet));
  o.progress = [&progress](const std::string& line) { progress.print("side bench: " + line); };
  o.on_step = [&progress](size_t done, size_t total, const std::string& step) { progress.update(done, total, step); };
  set_log_threshold(LogLevel::kError);
  const auto results = bench::run_block_bench(o);
  progress.finish();
  const std::string text = cli::block_bench_json(results);
  if (!args.out_dir.empty()) {
    auto md = [&](const std::vector<std::string>& plots) { return cli::block_bench_markdown(results, plots); };
    if (write_outputs(args.out_dir, text, md)) return 1;
  }
  if (args.json)
    std::fputs(text.c_str(), stdout);
  else if (args.out_dir.empty())
    std::fputs(cli::block_bench_markdown(results, {}).c_str(), stdout);
  for (const auto& p : results.points) {
    if (!p.error.empty()) return 1;  // a failed measurement fails the command
  }
  return 0;
}

}  // namespace

int bench_command(const BenchArgs& args) {
  if (args.bench_class == "block") return block_bench_command(args);
  const bool quick = args.quick, json = args.json;
  const std::string& out_dir = args.out_dir;
  const double window = args.window;
  const long repeats = args.repeats, recoveries = args.recoveries, exchanges = args.exchanges;
  auto o = bench::BenchOptions::defaults(quick);
  if (!args.sections.empty()) o.sections = args.sections;
  if (!args.frame_sizes.empty()) {
    o.frame_sizes = args.frame_sizes;
    o.mode_sizes.clear();  // sizes asked for are measured in every mode, sfi too
  }
  if (window > 0) o.window_s = window;
  if (repeats > 0) o.repeats = o.optimisation_repeats = static_cast<unsigned>(repeats);
  if (recoveries >= 0) o.recoveries = static_cast<unsigned>(recoveries);
  if (exchanges > 0) o.latency_exchanges = static_cast<unsigned>(exchanges);
  Paths paths = Paths::from_environment();
  o.domain.kapi_path = paths.kapi;
  o.domain.symvers_path = paths.symvers;
  o.domain.modules_dir = paths.modules_dir;
  // A line per measurement on stderr (logs keep them), and on a terminal the progress line under them.
  ProgressLine progress("side bench", ProgressLine::wanted(args.quiet));
  o.progress = [&progress](const std::string& line) { progress.print("side bench: " + line); };
  o.on_step = [&progress](size_t done, size_t total, const std::string& step) { progress.update(done, total, step); };
  // The drivers' own log lines would drown the progress; faults still reach the results.
  set_log_threshold(LogLevel::kError);

  auto results = bench::run_bench(o);
  progress.finish();
  const std::string text = bench_json(results);
  if (!out_dir.empty()) {
    auto md = [&](const std::vector<std::string>& plots) { return bench_markdown(results, plots); };
    if (write_outputs(out_dir, text, md)) return 1;
  }
  if (json)
    std::fputs(text.c_str(), stdout);
  else if (out_dir.empty())
    std::fputs(bench_markdown(results, {}).c_str(), stdout);
  // A failed measurement (a fault, a lost or corrupt frame, a missing figure) fails the command; goals that are
  // not met do not: they are targets, reported in the results.
  bool failed = !results.recovery.error.empty();
  for (const auto* list : {&results.throughput, &results.optimisations}) {
    for (const auto& p : *list) failed |= !p.error.empty();
  }
  for (const auto& l : results.latency) failed |= !l.error.empty();
  for (const auto& t : results.tcp) failed |= !t.error.empty() && t.error.rfind("skipped", 0) != 0;
  return failed ? 1 : 0;
}

}  // namespace side::cli
