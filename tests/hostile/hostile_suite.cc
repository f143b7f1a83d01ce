// The hostile-driver suite: every attack of attacks.json, run against this build's domain processes, must get the
// verdict the table gives it (fault kind, location in the module, message), with the supervisor alive, within a
// hard time bound, and nothing outside the domain changed: no file created, no process left behind, no network
// interface added or changed, nothing written to the terminal, no control character in the log.
//
// Each case runs in a child process of its own (the supervisor of that case, in a fresh network namespace), so
// that a supervisor that dies or hangs is seen and bounded; two cases run at a time.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/log.h"
#include "session/nic_session.h"
#include "supervisor/domain_process.h"

namespace side::supervisor {
using session::NicSessionConfig;
using session::NicSessionReport;
using session::run_nic_session;
namespace {

using nlohmann::json;

// A bound on one figure of the session's report (counters(): the NIC's, the IOMMU's, the host interface's, the
// restarts): what an attack must have made side count, or must not have let through.
struct Expectation {
  std::string counter;
  double min = 0, max = 1e300;
};

struct Case {
  std::string name, module, params, kind, location, message, forbidden_log;
  bool device = false;   // the driver gets the emulated e1000 (a NIC session) rather than only being loaded
  bool recover = false;  // device: restarts under the default policy (one verdict per fault otherwise)
  bool network = false;  // device: the host interface is a TAP (side0), which the driver's changes reach
  double timeout_s = 20;
  size_t max_log_lines = 1000;  // a driver cannot flood the log
  std::string log_contains;     // a line the log must hold (what a module measured, side's give-up message)
  std::vector<Expectation> expect;
};

std::vector<Expectation> load_expectations(const json& row) {
  std::vector<Expectation> out;
  if (!row.contains("expect")) return out;
  for (const auto& [counter, bounds] : row.at("expect").items()) {
    Expectation e{counter};
    if (!bounds.at(0).is_null()) e.min = bounds.at(0);
    if (!bounds.at(1).is_null()) e.max = bounds.at(1);
    out.push_back(e);
  }
  return out;
}

std::vector<Case> load_table() {
  std::ifstream in(SIDE_HOSTILE_TABLE);
  json table = json::parse(in);
  std::vector<Case> cases;
  for (const auto& row : table.at("attacks")) {
    Case c;
    c.name = row.at("name");
    c.module = row.value("module", "side_hostile_sys");
    c.params = row.value("params", "attack=" + c.name.substr(c.name.find('/') + 1));
    c.kind = row.at("kind");
    c.location = row.value("location", "");
    c.message = row.value("message", "");
    c.forbidden_log = row.value("forbidden_log", "");
    c.timeout_s = row.value("timeout_s", 20.0);
    c.device = row.value("device", false);
    c.max_log_lines = row.value("max_log_lines", size_t{1000});
    c.recover = row.value("recover", false);
    c.network = row.value("network", false);
    c.log_contains = row.value("log_contains", "");
    c.expect = load_expectations(row);
    cases.push_back(c);
  }
  return cases;
}

const char kMarker[] = "/tmp/side-hostile-marker";  // the file the file-system attacks try to create

std::vector<std::string> interfaces() {
  std::vector<std::string> names;
  if (auto* list = if_nameindex()) {
    for (auto* i = list; i->if_index != 0; ++i) names.emplace_back(i->if_name);
    if_freenameindex(list);
  }
  return names;
}

// The figures of a session an attack's verdict may bound (attacks.json "expect").
json counters(const NicSessionReport& report) {
  const auto& h = report.host;
  json c;
  c["restarts"] = report.recoveries.size();
  c["gave_up"] = report.gave_up ? 1 : 0;
  c["iommu.faults"] = report.iommu.faults;
  c["iommu.rejected_maps"] = report.iommu.rejected_maps;
  for (const auto& [name, value] : report.device_counters) c["nic." + name] = value;
  c["host.to_driver"] = h.to_driver;
  c["host.from_driver"] = h.from_driver;
  c["host.refused_changes"] = h.refused_changes;
  c["host.dropped_stalled"] = h.dropped_stalled;
  return c;
}

// A NIC session with the emulated e1000 and the hostile driver probing it: without restarts (one verdict) unless
// the case is about restarts; with a TAP as the host interface when the case is about what reaches the host.
json run_with_device(const Case& c) {
  NicSessionConfig config;
  config.domain.kapi_path = SIDE_TEST_KAPI;
  config.domain.symvers_path = SIDE_TEST_SYMVERS;
  config.domain.modules_dir = SIDE_HOSTILE_MODULES_DIR;
  config.executable = SIDE_BINARY;
  config.module = c.module;
  config.params = c.params;
  config.recover = c.recover;
  // A case about restarts needs traffic that outlasts them: each restart loses what arrived for a driver that never
  // takes its receiver (held for it, then dropped: net::Nic::hold_received_frames), and 10 frames would all be
  // accounted for (lost) after the first few restarts, ending the session before the policy's verdict.
  config.traffic.packets = c.recover ? 100'000 : 10;
  config.link_timeout_ms = 2000;
  if (c.network) {
    config.network.enabled = true;
    config.network.create_peer = true;
    config.network.duration_s = 2;
    config.network.live = false;
  }
  auto report = run_nic_session(config);
  json r;
  r["loaded"] = report.faults.empty();
  r["error"] = report.error;
  for (const auto& f : report.faults) r["faults"].push_back({f.kind_name, f.message, f.location});
  r["counters"] = counters(report);
  if (report.gave_up) r["log_extra"].push_back(report.give_up_message);
  return r;
}

// The child: the supervisor of one case. Writes its findings as one JSON object to `out`.
[[noreturn]] void supervise(const Case& c, int out) {
  // A network namespace of its own: what the case does to interfaces is seen, and cases do not see each other.
  bool own_netns = unshare(CLONE_NEWNET) == 0;
  auto interfaces_before = interfaces();
  std::vector<std::string> log;
  set_log_sink([&](LogLevel, std::string_view line) { log.emplace_back(line); });
  DomainProcessConfig pc;
  pc.kapi_path = SIDE_TEST_KAPI;
  pc.symvers_path = SIDE_TEST_SYMVERS;
  pc.modules_dir = SIDE_HOSTILE_MODULES_DIR;
  pc.executable = SIDE_BINARY;
  json r;
  if (c.device) {
    r = run_with_device(c);
  } else {
    auto d = DomainProcess::start(pc, {c.module, c.params});
    r["loaded"] = static_cast<bool>(d);
    if (!d) r["error"] = d.error().message;
    if (d) {
      for (const auto& f : (*d)->faults()) r["faults"].push_back({f.kind_name, f.message, f.location});
    }
  }
  int status = 0;
  r["children_left"] = waitpid(-1, &status, WNOHANG) != -1;
  r["interfaces_changed"] = own_netns && interfaces() != interfaces_before;
  r["log"] = log;
  // Bytes the driver chose (its log) need not be UTF-8: replaced, never thrown on.
  std::string text = r.dump(-1, ' ', false, json::error_handler_t::replace);
  for (size_t done = 0; done < text.size();) {
    ssize_t n = write(out, text.data() + done, text.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  _exit(0);
}

enum class Outcome { kContained, kEscaped, kHung };

struct Running {
  const Case* c;
  pid_t pid;
  int out, err;  // the child's report and its raw stderr (which the domain inherits)
  std::string report, stderr_bytes;
  std::chrono::steady_clock::time_point deadline;
};

Running launch(const Case& c) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) std::abort();
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], 2);
    close(out[0]);
    close(err[0]);
    try {
      supervise(c, out[1]);
    } catch (...) {
      _exit(3);  // the supervisor failed: reported as such by the parent
    }
  }
  close(out[1]);
  close(err[1]);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  auto bound = std::chrono::milliseconds(static_cast<long>(c.timeout_s * 1000));
  return {&c, pid, out[0], err[0], "", "", std::chrono::steady_clock::now() + bound};
}

void drain(int fd, std::string& into) {
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) into.append(buf, static_cast<size_t>(n));
}

// C0 and C1 controls (C1 also UTF-8 encoded, as a terminal decodes it) and bidi overrides: what a driver must not
// get onto the user's terminal through the log.
bool has_control(std::string_view line) {
  for (size_t i = 0; i < line.size(); ++i) {
    auto b = static_cast<unsigned char>(line[i]);
    auto next = i + 1 < line.size() ? static_cast<unsigned char>(line[i + 1]) : 0;
    auto third = i + 2 < line.size() ? static_cast<unsigned char>(line[i + 2]) : 0;
    if ((b < 0x20 && b != '\t') || b == 0x7f) return true;
    if (b == 0xc2 && next >= 0x80 && next < 0xa0) return true;
    if (b == 0xe2 && next == 0x80 && third >= 0xaa && third <= 0xae) return true;  // LRE..RLO
    if (b == 0xe2 && next == 0x81 && third >= 0xa6 && third <= 0xa9) return true;  // LRI..PDI
  }
  return false;
}

// Whether `kind` is one of the '|'-separated alternatives `expected` allows.
bool kind_matches(const std::string& kind, const std::string& expected) {
  for (size_t start = 0;;) {
    size_t bar = expected.find('|', start);
    if (expected.compare(start, bar == std::string::npos ? std::string::npos : bar - start, kind) == 0) return true;
    if (bar == std::string::npos) return false;
    start = bar + 1;
  }
}

// The verdicts some cases add: a log line that must be there, and bounds on what the session counted.
void judge_extras(const Case& c, const json& r, std::vector<std::string>& problems) {
  if (!c.log_contains.empty()) {
    bool found = false;
    for (const auto& part : {"log", "log_extra"}) {
      if (!r.contains(part)) continue;
      for (const auto& line : r[part]) found |= line.get<std::string>().find(c.log_contains) != std::string::npos;
    }
    if (!found) problems.push_back("no log line with '" + c.log_contains + "'");
  }
  for (const auto& e : c.expect) {
    if (!r.contains("counters") || !r["counters"].contains(e.counter)) {
      problems.push_back("no figure '" + e.counter + "' (only device cases count)");
      continue;
    }
    double v = r["counters"][e.counter];
    if (v < e.min || v > e.max) {
      problems.push_back(e.counter + " = " + std::to_string(static_cast<long long>(v)) + ", outside [" +
                         std::to_string(static_cast<long long>(e.min)) + ", " +
                         (e.max > 1e299 ? std::string("-") : std::to_string(static_cast<long long>(e.max))) + "]");
    }
  }
}

// Whether a case's finished child met its verdict; `why` says what did not.
bool judge(const Running& run, int status, std::string& why) {
  const Case& c = *run.c;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    why = "the supervisor died (status " + std::to_string(status) + ")";
    return false;
  }
  json r = json::parse(run.report, nullptr, false);
  if (r.is_discarded()) return why = "no report from the supervisor", false;
  std::vector<std::string> problems;
  std::string kind, location, message;
  if (r.contains("faults") && !r["faults"].empty()) {
    kind = r["faults"][0][0], message = r["faults"][0][1], location = r["faults"][0][2];
  }
  // A failed start carries the fault's message; its kind and location come from the supervisor's fault line.
  for (const auto& line : r["log"]) {
    std::string l = line;
    auto at = l.find("driver fault (");
    if (kind.empty() && at != std::string::npos) {
      auto close = l.find("): ", at);
      kind = l.substr(at + 14, close - at - 14);
      auto where = l.rfind(" at ");
      message =
          l.substr(close + 3, where == std::string::npos || where < close ? std::string::npos : where - close - 3);
      if (where != std::string::npos && where > close) location = l.substr(where + 4);
    }
    if (has_control(l)) problems.push_back("a control character in the log");
    if (!c.forbidden_log.empty() && l.starts_with(c.forbidden_log)) problems.push_back("a forged log line: " + l);
  }
  // No fault at all: "none". (A fault line in the log without a fault in the report, such as a start that timed
  // out under load, is not "none": the attack may not have run.)
  if (kind.empty() && r["loaded"] == true && r.value("faults", json::array()).empty()) kind = "none";
  if (!kind_matches(kind, c.kind)) {
    problems.push_back("fault kind '" + kind + "', expected '" + c.kind + "' (" + r.value("error", "") + ")");
  }
  if (location.find(c.location) == std::string::npos) problems.push_back("location '" + location + "'");
  std::string all = message + " " + r.value("error", "");
  if (all.find(c.message) == std::string::npos) problems.push_back("message '" + all + "'");
  if (!run.stderr_bytes.empty())
    problems.push_back("the domain wrote to the terminal: " + run.stderr_bytes.substr(0, 80));
  if (r["children_left"] == true) problems.push_back("a process was left behind");
  if (r["interfaces_changed"] == true) problems.push_back("network interfaces changed");
  if (r["log"].size() > c.max_log_lines) problems.push_back(std::to_string(r["log"].size()) + " log lines");
  judge_extras(c, r, problems);
  // (Two cases run at once: a file either creates fails both, never neither.)
  if (::access(kMarker, F_OK) == 0) problems.push_back("a file was created");
  for (const auto& p : problems) why += (why.empty() ? "" : "; ") + p;
  return problems.empty();
}

Outcome finish(Running& run, std::string& why) {
  int status = 0;
  bool hung = false;
  for (;;) {
    drain(run.out, run.report);
    drain(run.err, run.stderr_bytes);
    if (waitpid(run.pid, &status, WNOHANG) == run.pid) break;
    if (std::chrono::steady_clock::now() > run.deadline) {
      ::kill(run.pid, SIGKILL);  // the domain follows (PR_SET_PDEATHSIG)
      waitpid(run.pid, &status, 0);
      hung = true;
      break;
    }
    pollfd fds[2] = {{run.out, POLLIN, 0}, {run.err, POLLIN, 0}};
    poll(fds, 2, 20);
  }
  drain(run.out, run.report);
  drain(run.err, run.stderr_bytes);
  close(run.out);
  close(run.err);
  if (hung) {
    why = "no verdict within " + std::to_string(static_cast<int>(run.c->timeout_s)) + " s";
    return Outcome::kHung;
  }
  return judge(run, status, why) ? Outcome::kContained : Outcome::kEscaped;
}

TEST(HostileSuite, EveryAttackIsContained) {
  auto cases = load_table();
  ASSERT_GE(cases.size(), 40u);
  // SIDE_HOSTILE_FILTER=TEXT runs only the cases whose name contains TEXT (when working on one).
  if (const char* filter = std::getenv("SIDE_HOSTILE_FILTER"); filter && *filter) {
    std::erase_if(cases, [&](const Case& c) { return c.name.find(filter) == std::string::npos; });
  }
  unsigned contained = 0, escaped = 0, hung = 0;
  constexpr size_t kParallel = 2;
  std::vector<Running> running;
  size_t next = 0;
  ::unlink(kMarker);
  auto report = [&](Running& run) {
    std::string why;
    Outcome o = finish(run, why);
    const Case& c = *run.c;
    if (why.find("a file was created") != std::string::npos) ::unlink(kMarker);
    if (o == Outcome::kContained) ++contained;
    if (o == Outcome::kEscaped) ++escaped;
    if (o == Outcome::kHung) ++hung;
    EXPECT_EQ(o, Outcome::kContained) << c.name << ": " << why;
    // SIDE_HOSTILE_VERBOSE=1: each case's report (what the supervisor saw and counted), to write a verdict from.
    if (const char* v = std::getenv("SIDE_HOSTILE_VERBOSE"); v && *v == '1') {
      std::printf("%s: %s\n", c.name.c_str(), run.report.substr(0, 40000).c_str());
    }
  };
  while (next < cases.size() || !running.empty()) {
    while (next < cases.size() && running.size() < kParallel) running.push_back(launch(cases[next++]));
    report(running.front());
    running.erase(running.begin());
  }
  std::printf("hostile suite: %zu attacks, %u contained, %u escaped, %u hung\n", cases.size(), contained, escaped,
              hung);
}

}  // namespace
}  // namespace side::supervisor
