#include "conformance/row_runner.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "conformance/child_processes.h"
#include "conformance/ping_output.h"
#include "loader/missing_imports.h"
#include "session/iperf3_report.h"
#include "session/nic_session.h"
#include "session/shell_command.h"

namespace side::conformance {
namespace {

using clock = std::chrono::steady_clock;

// Sleeps up to `s`, in short steps, unless `stop` is set; whether it slept the whole time.
bool pause(double s, const std::atomic<bool>& stop) {
  const auto end = clock::now() + std::chrono::duration<double>(s);
  while (clock::now() < end) {
    if (stop) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// The steps that run while the driver is up, on the session's workload thread. Each records its outcome in the
// row; one that fails ends the workload. When the session stops it (a driver given up on), it returns without
// recording: the session's error then fails the step that was running (RowResult::settle).
class RowWorkload {
 public:
  RowWorkload(const MatrixEntry& row, const RunnerOptions& o, const std::string& peer_ip, RowResult& r)
      : row_(row), o_(o), peer_ip_(peer_ip), r_(r) {}
  void run(const session::SessionHandles& h, const std::atomic<bool>& stop);
  std::atomic<bool> done{false};  // ends the session (NicSessionConfig::Network::stop)
  bool started = false;           // the driver was up: probe and link passed

 private:
  bool steady(const std::atomic<bool>& stop) const;
  bool ping(const std::atomic<bool>& stop);
  bool tcp(const std::atomic<bool>& stop);
  bool tcp_direction(bool reverse, TcpDirection& d, const std::atomic<bool>& stop);
  std::string link_afterwards(const std::atomic<bool>& stop) const;
  bool recovery(const session::SessionHandles& h, const std::atomic<bool>& stop);
  bool kill_and_wait(const session::SessionHandles& h, const std::atomic<bool>& stop);
  void begin(Step s) {
    if (o_.on_step) o_.on_step(row_, s);
  }
  session::ShellResult iperf3(double seconds, bool reverse, const std::atomic<bool>& stop) const;

  const MatrixEntry& row_;
  const RunnerOptions& o_;
  std::string peer_ip_;
  std::string peer_ns_;  // the cable's far end, where the iperf3 servers run
  RowResult& r_;
};

void RowWorkload::run(const session::SessionHandles& h, const std::atomic<bool>& stop) {
  started = true;
  peer_ns_ = h.peer_namespace;
  r_.pass(Step::kProbe);
  r_.pass(Step::kLink);
  if (ping(stop) && tcp(stop)) recovery(h, stop);
  done = true;
}

// One TCP run: a fresh iperf3 server in the peer's namespace for each (a server reused at once for the next test
// sometimes resets its control connection), listening before the client starts; the client's JSON report.
session::ShellResult RowWorkload::iperf3(double seconds, bool reverse, const std::atomic<bool>& stop) const {
  const pid_t server = session::spawn_shell("exec iperf3 -s -1 >/dev/null 2>&1", peer_ns_, true);
  if (server < 0) return {};
  for (int i = 0; i < 100 && !stop; ++i) {
    if (!session::run_shell("ss -Hltn 'sport = :5201' | grep -q .", peer_ns_, 2, &stop).status) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  char cmd[160];
  std::snprintf(cmd, sizeof cmd, "exec iperf3 -c %s -t %g -J%s 2>/dev/null", peer_ip_.c_str(), seconds,
                reverse ? " -R" : "");
  // A server still starting (the machine is loaded) refuses the connection: that is not the driver's doing.
  session::ShellResult result;
  for (int attempt = 0; attempt < 3 && !stop; ++attempt) {
    result = session::run_shell(cmd, "", seconds + 30, &stop);
    if (result.output.find("unable to connect to server") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  session::stop_child(server);
  return result;
}

// Before the measured pings, the link must carry pings steadily: a batch of 5, every one answered, within 15 s. A NIC
// model may drop frames while the driver finishes coming up: QEMU's e1000 ignores what it receives for a second after
// each write of its receive control register, which the driver makes again whenever the host joins a multicast group
// (IPv6 does on a new interface).
bool RowWorkload::steady(const std::atomic<bool>& stop) const {
  const auto start = clock::now();
  while (clock::now() - start < std::chrono::seconds(15) && !stop) {
    const auto batch = session::run_shell("exec ping -n -c 5 -i 0.1 -w 3 " + peer_ip_, "", 5, &stop);
    const PingOutput out = parse_ping_output(batch.output);
    if (out.summary && out.received == 5) return true;
  }
  return false;
}

bool RowWorkload::ping(const std::atomic<bool>& stop) {
  begin(Step::kPing);
  const bool is_steady = steady(stop);
  if (stop) return false;
  if (!is_steady) return r_.fail(Step::kPing, "no 5 pings in a row answered within 15 s"), false;
  // A ping is lost when no reply came within the deadline (-w): without one, ping stops listening max(2 x the
  // slowest round trip, the interval) after its last request, and a loaded machine's late last reply would count
  // as a lost frame.
  const double deadline_s = o_.pings * o_.ping_interval_s + 10;
  char cmd[160];
  std::snprintf(cmd, sizeof cmd, "exec ping -n -c %u -i %g -w %.0f %s", o_.pings, o_.ping_interval_s, deadline_s,
                peer_ip_.c_str());
  const auto run = session::run_shell(cmd, "", deadline_s + 5, &stop);
  if (stop) return false;
  const PingOutput out = parse_ping_output(run.output);
  r_.ping.transmitted = out.transmitted;
  r_.ping.received = out.received;
  r_.ping.rtt_p50_ms = out.median_ms();
  if (!out.rtt_ms.empty()) {
    r_.ping.rtt_min_ms = *std::min_element(out.rtt_ms.begin(), out.rtt_ms.end());
    r_.ping.rtt_max_ms = *std::max_element(out.rtt_ms.begin(), out.rtt_ms.end());
  }
  if (!out.summary) return r_.fail(Step::kPing, run.timed_out ? "ping timed out" : "ping printed no summary"), false;
  if (out.received != o_.pings || out.transmitted != o_.pings) {
    return r_.fail(Step::kPing, std::to_string(out.transmitted - std::min(out.received, out.transmitted)) + " of " +
                                    std::to_string(out.transmitted) + " pings lost"),
           false;
  }
  r_.pass(Step::kPing);
  return true;
}

// After a transfer that stalled: whether the link still carries pings, which tells a dead receive or transmit path
// (no replies) from a stalled TCP connection (replies).
std::string RowWorkload::link_afterwards(const std::atomic<bool>& stop) const {
  const auto run = session::run_shell("exec ping -n -c 5 -i 0.2 -w 5 " + peer_ip_, "", 10, &stop);
  const PingOutput out = parse_ping_output(run.output);
  if (!out.summary) return " (then ping printed no summary)";
  return " (then " + std::to_string(out.received) + " of " + std::to_string(out.transmitted) + " pings answered)";
}

bool RowWorkload::tcp_direction(bool reverse, TcpDirection& d, const std::atomic<bool>& stop) {
  const auto run = iperf3(o_.tcp_seconds, reverse, stop);
  if (stop) return false;
  const std::string dir = reverse ? "receive: " : "transmit: ";
  if (run.timed_out) return r_.fail(Step::kTcp, dir + "iperf3 did not finish" + link_afterwards(stop)), false;
  auto report = session::parse_iperf3_report(run.output);
  if (!report) return r_.fail(Step::kTcp, dir + report.error().message), false;
  d.sender_gbps = report->sender_gbps;
  d.receiver_gbps = report->receiver_gbps;
  d.retransmits = report->retransmits;
  if (run.status != 0) return r_.fail(Step::kTcp, dir + "iperf3 exited " + std::to_string(run.status)), false;
  if (report->receiver_gbps <= 0) return r_.fail(Step::kTcp, dir + "nothing received"), false;
  return true;
}

bool RowWorkload::tcp(const std::atomic<bool>& stop) {
  begin(Step::kTcp);
  r_.tcp.seconds = o_.tcp_seconds;
  if (!tcp_direction(false, r_.tcp.tx, stop) || !tcp_direction(true, r_.tcp.rx, stop)) return false;
  r_.pass(Step::kTcp);
  return true;
}

// Kills the domain (SIGKILL, as a crash would end it) and waits for the restart; records what failed.
bool RowWorkload::kill_and_wait(const session::SessionHandles& h, const std::atomic<bool>& stop) {
  // The steady state: a spare domain, started in the background, is ready to take over (if it is late, the
  // restart starts one and takes longer, which the figure shows).
  (void)h.recoverable->wait_spare(10'000);
  const size_t before = h.recoverable->recoveries().size();
  if (auto s = h.domain.kill(); !s) return r_.fail(Step::kRecovery, "kill: " + s.error().message), false;
  const auto t0 = clock::now();
  while (h.recoverable->recoveries().size() == before && clock::now() - t0 < std::chrono::seconds(15) && !stop)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (stop) return false;
  const auto recoveries = h.recoverable->recoveries();
  r_.recovery.recoveries = recoveries.size() - before;
  if (recoveries.size() == before) return r_.fail(Step::kRecovery, "no restart within 15 s of the kill"), false;
  const auto& rec = recoveries[before];
  if (!rec.ok) return r_.fail(Step::kRecovery, "restart failed: " + rec.error), false;
  r_.recovery.total_ms = rec.total_ms;
  return true;
}

// iperf3 runs while the domain is killed a third of the way in; the connection must survive: iperf3 completes.
bool RowWorkload::recovery(const session::SessionHandles& h, const std::atomic<bool>& stop) {
  begin(Step::kRecovery);
  if (!h.recoverable) return r_.fail(Step::kRecovery, "the domain does not recover"), false;
  session::ShellResult client;
  std::thread t([&] { client = iperf3(o_.recovery_seconds, false, stop); });
  bool restarted = pause(o_.recovery_seconds / 3, stop) && kill_and_wait(h, stop);
  t.join();
  if (stop || !restarted) return false;
  auto report = session::parse_iperf3_report(client.output);
  if (report) r_.recovery.receiver_gbps = report->receiver_gbps;
  if (client.timed_out) return r_.fail(Step::kRecovery, "iperf3 did not finish" + link_afterwards(stop)), false;
  if (!report) return r_.fail(Step::kRecovery, "connection lost: " + report.error().message), false;
  if (client.status != 0) return r_.fail(Step::kRecovery, "iperf3 exited " + std::to_string(client.status)), false;
  r_.pass(Step::kRecovery);
  return true;
}

// Before any driver runs: every kernel function it needs must be there, or it cannot load.
bool imports_resolve(const MatrixEntry& row, const RunnerOptions& o, RowResult& r) {
  loader::ModuleIndex index(o.domain.modules_dir);
  auto resolved = loader::resolve_imports(index, o.domain.kapi_path, row.module);
  if (!resolved) return r.fail(Step::kProbe, resolved.error().message), false;
  r.missing_symbols = resolved->missing;
  if (r.missing_symbols.empty()) return true;
  const size_t n = r.missing_symbols.size();
  r.fail(Step::kProbe, std::to_string(n) + " kernel function" + (n == 1 ? "" : "s") + " missing");
  return false;
}

session::NicSessionConfig session_config(const MatrixEntry& row, const RunnerOptions& o) {
  session::NicSessionConfig c;
  c.isolation = "process";
  c.domain = o.domain;
  c.module = row.module;
  c.device = row.device;
  c.qemu_binary = o.qemu_binary;
  c.executable = o.executable;
  c.recover = true;
  c.policy = supervisor::RecoveryPolicy::for_deliberate_faults(3);  // the one deliberate kill, and a little room
  c.network.enabled = true;
  c.network.create_peer = true;
  c.network.ifname = o.ifname;
  c.network.live = false;
  return c;
}

// After the session: probe and link if the steps never started, then what close and remove left behind.
void record_session(const session::NicSessionReport& report, bool started, size_t children_before, RowResult& r) {
  if (report.probe_ms > 0) r.probe_ms = report.probe_ms;
  if (report.load_ms > 0) r.load_ms = report.load_ms;
  if (!report.netdev.empty()) r.link_ms = report.link_ms;
  if (!started) {
    const std::string why = report.error.empty() ? "the driver did not come up" : report.error;
    if (report.netdev.empty())
      r.fail(Step::kProbe, report.driver.empty() ? "load: " + why : why);
    else
      r.fail(Step::kLink, why);
    return;
  }
  r.close.mappings_after_remove = report.dma_mappings_after_remove;
  const size_t children = child_processes().size();
  r.close.processes_left = children > children_before ? children - children_before : 0;
  if (!report.error.empty()) return r.settle(report.error);
  if (report.gave_up) return r.settle("recovery gave up: " + report.give_up_message);
  if (report.dma_mappings_after_remove) return r.fail(Step::kClose, "DMA mappings left after remove");
  if (*r.close.processes_left) return r.fail(Step::kClose, "processes left after close");
  r.pass(Step::kClose);
}

}  // namespace

RowResult run_row(const MatrixEntry& row, const RunnerOptions& o) {
  RowResult r(row.module, row.device);
  if (o.on_step) o.on_step(row, Step::kProbe);
  if (!imports_resolve(row, o, r)) return r;
  if (row.device.starts_with("qemu:") && o.qemu_binary.empty()) {
    r.fail(Step::kProbe, o.qemu_error.empty() ? "no QEMU with the vfio-user server" : o.qemu_error);
    return r;
  }
  const size_t children_before = child_processes().size();
  auto config = session_config(row, o);
  const std::string peer_ip = config.network.peer_addr.substr(0, config.network.peer_addr.find('/'));
  RowWorkload workload(row, o, peer_ip, r);
  config.network.stop = &workload.done;
  config.network_workload = [&](const session::SessionHandles& h, const std::atomic<bool>& stop) {
    workload.run(h, stop);
  };
  const auto report = session::run_nic_session(config);
  if (o.on_step && workload.started) o.on_step(row, Step::kClose);
  record_session(report, workload.started, children_before, r);
  r.settle(report.error);
  return r;
}

}  // namespace side::conformance
