// One row of the NIC conformance table (`side conformance`): a driver on a device, taken through its steps in
// order (probe, link, ping, TCP, recovery, clean close), each passing or failing with a short reason. A failing
// step ends the row: every later step is "not run", so a row never shows a figure measured after a failure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace side::conformance {

enum class Step { kProbe, kLink, kPing, kTcp, kRecovery, kClose };
inline constexpr std::array<Step, 6> kSteps{Step::kProbe, Step::kLink,     Step::kPing,
                                            Step::kTcp,   Step::kRecovery, Step::kClose};
// "probe", "link", "ping", "tcp", "recovery", "close": the JSON members and the table's columns.
const char* step_name(Step s);

enum class Outcome { kPending, kPass, kFail, kNotRun };
// "pending", "pass", "fail", "not run".
const char* outcome_name(Outcome o);

struct StepResult {
  Outcome outcome = Outcome::kPending;
  std::string reason;  // why it failed (a short phrase), or why it did not run
};

// What each step measured; a figure not measured stays empty (null in JSON).
struct PingFigures {
  uint64_t transmitted = 0, received = 0;
  std::optional<double> rtt_min_ms, rtt_p50_ms, rtt_max_ms;
};
struct TcpDirection {
  std::optional<double> sender_gbps, receiver_gbps;
  uint64_t retransmits = 0;
};
struct TcpFigures {
  double seconds = 0;
  TcpDirection tx;  // host -> peer: the driver transmits
  TcpDirection rx;  // peer -> host (iperf3 -R): the driver receives
};
struct RecoveryFigures {
  uint64_t recoveries = 0;              // restarts seen (one domain killed: one)
  std::optional<double> total_ms;       // from the kill's detection to the new driver running (RecoveryTimings)
  std::optional<double> receiver_gbps;  // iperf3's figure over the whole run, kill included
};
struct CloseFigures {
  std::optional<uint64_t> mappings_after_remove;  // DMA mappings the device still had after remove
  std::optional<uint64_t> processes_left;         // side's child processes (domains, QEMU, commands) left after it
};

class RowResult {
 public:
  RowResult(std::string module, std::string device) : module(std::move(module)), device(std::move(device)) {}

  // Records a step's outcome. A step after a failure stays "not run" whatever is recorded for it.
  void pass(Step s);
  void fail(Step s, std::string reason);
  // Whether `s` may run: no step failed before it.
  bool may_run(Step s) const;
  // The end of the row: the first step still pending fails with `why` (the row ended before it: the session's
  // error), every later one is not run. A row with nothing pending is unchanged.
  void settle(const std::string& why);

  const StepResult& step(Step s) const { return steps_[static_cast<size_t>(s)]; }
  // Every step passed.
  bool ok() const;
  // The first failed step, if any.
  std::optional<Step> first_failure() const;

  std::string module, device;
  std::vector<std::string> missing_symbols;  // kernel functions the driver needs that side does not provide
  std::optional<double> load_ms, probe_ms, link_ms;
  PingFigures ping;
  TcpFigures tcp;
  RecoveryFigures recovery;
  CloseFigures close;

 private:
  std::array<StepResult, kSteps.size()> steps_{};
};

// A reason as the table shows it: its first line, at most `limit` characters ("..." marks a cut).
std::string short_reason(const std::string& message, size_t limit = 90);

}  // namespace side::conformance
