// side conformance: the NIC conformance table (issue #14): every driver of the matrix (conformance/matrix.h) on its
// device, isolated, taken through probe, link, ping, TCP, recovery and clean close (conformance/row_runner.h).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <string>

#include "cli/commands.h"
#include "cli/conformance_report.h"
#include "cli/progress.h"
#include "common/log.h"
#include "conformance/row_runner.h"
#include "devices/vfio_user/qemu_binary.h"
#include "net/netns.h"

namespace side::cli {

void conformance_usage(FILE* out) {
  std::fprintf(out,
               "usage: side conformance [options]\n"
               "The NIC conformance table: each Debian driver of the matrix, unmodified and isolated, on its device\n"
               "(side's own model or QEMU's over vfio-user): probe, link up, ping with no loss, iperf3 TCP both\n"
               "ways, a domain killed under iperf3 and recovered with the connection alive, close and remove with no\n"
               "DMA mapping or process left, and the kernel functions the driver needs that side does not have.\n"
               "A failing step gives its reason; the later steps of that row are not run.\n"
               "  --drivers LIST       rows to run: drivers (every row of each) or DRIVER@DEVICE, comma-separated,\n"
               "                       e.g. e1000,8139cp or e1000@qemu:e1000 (default: the whole matrix)\n"
               "  --json               print one JSON document (schema side-conformance/1) instead of the table\n"
               "  --markdown           print the table as Markdown (for the README)\n"
               "  --out DIR            also write DIR/report.md and DIR/results.json\n"
               "  --quiet              no progress line (shown on a terminal only)\n"
               "  --tcp-seconds N      length of each iperf3 direction (default 3)\n"
               "Needs root (TAP interfaces, a network namespace), ping and iperf3; QEMU rows need QEMU with the\n"
               "vfio-user server (scripts/build-qemu.sh; built on first use). Exit status 0 if every row passes,\n"
               "1 if any fails.\n");
}

namespace {

std::string now_utc() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return buf;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out.flush());
}

bool needs_qemu(const std::vector<conformance::MatrixEntry>& rows) {
  for (const auto& r : rows) {
    if (r.device.starts_with("qemu:")) return true;
  }
  return false;
}

conformance::RunnerOptions runner_options(const std::vector<conformance::MatrixEntry>& rows,
                                          std::optional<uint64_t> tcp_seconds) {
  conformance::RunnerOptions o;
  if (tcp_seconds) o.tcp_seconds = static_cast<double>(*tcp_seconds);
  const Paths paths = Paths::from_environment();
  o.domain.kapi_path = paths.kapi;
  o.domain.symvers_path = paths.symvers;
  o.domain.modules_dir = paths.modules_dir;
  o.ifname = "sidecf" + std::to_string(getpid());  // two runs at once do not take each other's interface
  if (needs_qemu(rows)) {
    auto qemu = vfio_user::find_qemu(/*build=*/true);  // built on first use of a QEMU device, as side run does
    if (qemu)
      o.qemu_binary = *qemu;
    else
      o.qemu_error = qemu.error().message;
  }
  return o;
}

int write_outputs(const ConformanceArgs& args, const ConformanceRun& run) {
  if (!args.out_dir.empty()) {
    mkdir(args.out_dir.c_str(), 0755);
    if (!write_file(args.out_dir + "/results.json", conformance_json(run)) ||
        !write_file(args.out_dir + "/report.md", conformance_markdown(run))) {
      std::fprintf(stderr, "side conformance: cannot write into %s\n", args.out_dir.c_str());
      return 1;
    }
    std::fprintf(stderr, "side conformance: wrote %s/report.md and results.json\n", args.out_dir.c_str());
  }
  if (args.json)
    std::fputs(conformance_json(run).c_str(), stdout);
  else if (args.markdown)
    std::fputs(conformance_markdown(run).c_str(), stdout);
  else
    std::fputs(conformance_table(run).c_str(), stdout);
  return run.ok() ? 0 : 1;
}

}  // namespace

int conformance_command(const ConformanceArgs& args) {
  if (!net::have_net_admin()) {
    std::fprintf(stderr,
                 "side conformance: needs CAP_NET_ADMIN for TAP interfaces and a network namespace: run "
                 "as root\n");
    return 1;
  }
  if (access("/usr/bin/iperf3", X_OK) != 0) {
    std::fprintf(stderr, "side conformance: iperf3 is not installed (scripts/setup.sh installs it)\n");
    return 1;
  }
  const auto rows = conformance::select_rows(args.drivers);  // checked when the command line was parsed
  auto o = runner_options(*rows, args.tcp_seconds);
  ProgressLine progress("side conformance", ProgressLine::wanted(args.quiet));
  size_t index = 0;
  const size_t total = rows->size() * conformance::kSteps.size();
  o.on_step = [&](const conformance::MatrixEntry& row, conformance::Step step) {
    progress.update(index * conformance::kSteps.size() + static_cast<size_t>(step), total,
                    row.name() + ": " + conformance::step_name(step));
  };
  // The drivers' own log lines would drown the table; what failed is in each row's reason.
  set_log_threshold(LogLevel::kError);
  ConformanceRun run;
  run.date_utc = now_utc();
  const auto start = std::chrono::steady_clock::now();
  for (; index < rows->size(); ++index) {
    run.rows.push_back(conformance::run_row((*rows)[index], o));
    const auto& r = run.rows.back();
    const auto failed = r.first_failure();
    std::string verdict = "pass";
    if (failed) verdict = "FAIL at " + std::string(conformance::step_name(*failed)) + ": " + r.step(*failed).reason;
    progress.print("side conformance: " + (*rows)[index].name() + ": " + verdict);
  }
  progress.finish();
  run.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return write_outputs(args, run);
}

}  // namespace side::cli
