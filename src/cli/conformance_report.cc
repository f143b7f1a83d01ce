#include "cli/conformance_report.h"

#include <algorithm>
#include <cstdio>

#include "cli/json.h"
#include "common/build_config.h"

namespace side::cli {
namespace {

using conformance::Outcome;
using conformance::RowResult;
using conformance::Step;

std::string printed(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::string ms(const std::optional<double>& v) {
  return v ? printed(*v < 10 ? "%.2f ms" : "%.0f ms", *v) : "? ms";
}

// Three significant digits: ne2k-pci's few Mbit/s must not print as 0.00.
std::string gbps(const std::optional<double>& v) {
  return v ? printed("%.3g", *v) : "?";
}

// What a passed step measured.
std::string passed_cell(const RowResult& r, Step step) {
  switch (step) {
    case Step::kProbe:
      return "ok " + ms(r.probe_ms);
    case Step::kLink:
      return "up " + ms(r.link_ms);
    case Step::kPing: {
      const uint64_t lost = r.ping.transmitted - std::min(r.ping.received, r.ping.transmitted);
      return std::to_string(r.ping.received) + "/" + std::to_string(r.ping.transmitted) + ", " +
             printed("%.0f%% loss", r.ping.transmitted
                                        ? 100.0 * static_cast<double>(lost) / static_cast<double>(r.ping.transmitted)
                                        : 0.0) +
             ", p50 " + ms(r.ping.rtt_p50_ms);
    }
    case Step::kTcp:
      return "tx " + gbps(r.tcp.tx.receiver_gbps) + ", rx " + gbps(r.tcp.rx.receiver_gbps) + " Gbit/s";
    case Step::kRecovery:
      return "ok " + ms(r.recovery.total_ms);
    case Step::kClose:
      return "clean";
  }
  return "?";
}

}  // namespace

bool ConformanceRun::ok() const {
  return !rows.empty() && std::all_of(rows.begin(), rows.end(), [](const auto& r) { return r.ok(); });
}

std::string conformance_cell(const RowResult& row, Step step) {
  const auto& s = row.step(step);
  switch (s.outcome) {
    case Outcome::kPass:
      return passed_cell(row, step);
    case Outcome::kFail:
      return "FAIL: " + s.reason;
    case Outcome::kNotRun:
    case Outcome::kPending:
      return "not run";
  }
  return "?";
}

std::string missing_cell(const RowResult& row, size_t shown) {
  const auto& m = row.missing_symbols;
  if (m.empty()) return "none";
  std::string out = std::to_string(m.size()) + ":";
  for (size_t i = 0; i < m.size() && i < shown; ++i) out += (i ? ", " : " ") + m[i];
  if (m.size() > shown) out += ", ...";
  return out;
}

namespace {

std::vector<std::vector<std::string>> cells(const ConformanceRun& run, size_t missing_shown) {
  std::vector<std::vector<std::string>> out;
  out.push_back({"DRIVER", "DEVICE", "PROBE", "LINK", "PING", "TCP", "RECOVERY", "CLOSE", "MISSING"});
  for (const auto& r : run.rows) {
    std::vector<std::string> line{r.module, r.device};
    for (Step s : conformance::kSteps) line.push_back(conformance_cell(r, s));
    line.push_back(missing_cell(r, missing_shown));
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace

std::string conformance_table(const ConformanceRun& run) {
  const auto table = cells(run, 3);
  std::vector<size_t> width(table[0].size(), 0);
  for (const auto& line : table) {
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  }
  std::string out;
  for (const auto& line : table) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(width[i] - line[i].size() + 2, ' ');
    }
    out += text + "\n";
  }
  size_t passed = std::count_if(run.rows.begin(), run.rows.end(), [](const auto& r) { return r.ok(); });
  out += std::to_string(passed) + " of " + std::to_string(run.rows.size()) + " rows pass (" +
         printed("%.0f s", run.elapsed_s) + ")\n";
  return out;
}

std::string conformance_markdown(const ConformanceRun& run) {
  const auto table = cells(run, 6);  // every name is in the JSON, and in `side symbols MODULE --missing`
  std::string out = "# NIC conformance\n\n`side conformance` on " + run.date_utc + ", kernel ABI " +
                    SIDE_KERNEL_RELEASE + ": each Debian driver, unmodified and isolated, on its device. " +
                    "TCP is iperf3's received rate each way (tx: the driver transmits); recovery is the restart of " +
                    "a domain killed under iperf3, whose connection survives.\n\n";
  for (size_t i = 0; i < table.size(); ++i) {
    out += "|";
    for (auto c : table[i]) {
      for (size_t at = c.find('|'); at != std::string::npos; at = c.find('|', at + 2)) c.insert(at, "\\");
      out += " " + c + " |";
    }
    out += "\n";
    if (i == 0) {
      out += "|";
      for (size_t k = 0; k < table[i].size(); ++k) out += "---|";
      out += "\n";
    }
  }
  return out;
}

namespace {

void optional_field(Json& j, const std::string& key, const std::optional<double>& v) {
  if (v)
    j.field(key, *v);
  else
    j.key(key).null();  // not measured
}

void optional_field(Json& j, const std::string& key, const std::optional<uint64_t>& v) {
  if (v)
    j.field(key, *v);
  else
    j.key(key).null();
}

void tcp_direction_json(Json& j, const char* key, const conformance::TcpDirection& d) {
  j.key(key).object_begin();
  optional_field(j, "sender_gbps", d.sender_gbps);
  optional_field(j, "receiver_gbps", d.receiver_gbps);
  j.field("retransmits", d.retransmits).object_end();
}

// A step's object: its result and reason, then what it measured.
void step_json(Json& j, const RowResult& r, Step s) {
  const auto& st = r.step(s);
  j.key(conformance::step_name(s)).object_begin().field("result", conformance::outcome_name(st.outcome));
  if (st.reason.empty())
    j.key("reason").null();
  else
    j.field("reason", st.reason);
  switch (s) {
    case Step::kProbe:
      optional_field(j, "load_ms", r.load_ms);
      optional_field(j, "probe_ms", r.probe_ms);
      break;
    case Step::kLink:
      optional_field(j, "link_ms", r.link_ms);
      break;
    case Step::kPing:
      j.field("transmitted", r.ping.transmitted).field("received", r.ping.received);
      optional_field(j, "rtt_min_ms", r.ping.rtt_min_ms);
      optional_field(j, "rtt_p50_ms", r.ping.rtt_p50_ms);
      optional_field(j, "rtt_max_ms", r.ping.rtt_max_ms);
      break;
    case Step::kTcp:
      j.field("seconds", r.tcp.seconds);
      tcp_direction_json(j, "tx", r.tcp.tx);
      tcp_direction_json(j, "rx", r.tcp.rx);
      break;
    case Step::kRecovery:
      j.field("recoveries", r.recovery.recoveries);
      optional_field(j, "total_ms", r.recovery.total_ms);
      optional_field(j, "receiver_gbps", r.recovery.receiver_gbps);
      break;
    case Step::kClose:
      optional_field(j, "mappings_after_remove", r.close.mappings_after_remove);
      optional_field(j, "processes_left", r.close.processes_left);
      break;
  }
  j.object_end();
}

}  // namespace

std::string conformance_json(const ConformanceRun& run) {
  Json j;
  j.object_begin().field("schema", kConformanceSchema).field("kernel_release", SIDE_KERNEL_RELEASE);
  j.field("date_utc", run.date_utc).field("elapsed_s", run.elapsed_s).field("ok", run.ok());
  const auto passed =
      static_cast<uint64_t>(std::count_if(run.rows.begin(), run.rows.end(), [](const auto& r) { return r.ok(); }));
  j.field("passed", passed).field("failed", static_cast<uint64_t>(run.rows.size()) - passed);
  j.key("rows").array_begin();
  for (const auto& r : run.rows) {
    j.object_begin().field("module", r.module).field("device", r.device).field("ok", r.ok());
    j.key("missing_symbols").array_begin();
    for (const auto& m : r.missing_symbols) j.value(m);
    j.array_end();
    for (Step s : conformance::kSteps) step_json(j, r, s);
    j.object_end();
  }
  j.array_end().object_end();
  return j.str() + "\n";
}

}  // namespace side::cli
