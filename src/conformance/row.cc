#include "conformance/row.h"

namespace side::conformance {

const char* step_name(Step s) {
  switch (s) {
    case Step::kProbe:
      return "probe";
    case Step::kLink:
      return "link";
    case Step::kPing:
      return "ping";
    case Step::kTcp:
      return "tcp";
    case Step::kRecovery:
      return "recovery";
    case Step::kClose:
      return "close";
  }
  return "?";
}

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kPending:
      return "pending";
    case Outcome::kPass:
      return "pass";
    case Outcome::kFail:
      return "fail";
    case Outcome::kNotRun:
      return "not run";
  }
  return "?";
}

bool RowResult::may_run(Step s) const {
  for (Step before : kSteps) {
    if (before == s) return true;
    if (step(before).outcome == Outcome::kFail || step(before).outcome == Outcome::kNotRun) return false;
  }
  return true;
}

void RowResult::pass(Step s) {
  if (!may_run(s)) return;
  steps_[static_cast<size_t>(s)] = {Outcome::kPass, {}};
}

void RowResult::fail(Step s, std::string reason) {
  if (!may_run(s)) return;
  steps_[static_cast<size_t>(s)] = {Outcome::kFail, short_reason(reason)};
  const std::string why = std::string("after ") + step_name(s) + " failed";
  for (size_t i = static_cast<size_t>(s) + 1; i < steps_.size(); ++i) steps_[i] = {Outcome::kNotRun, why};
}

void RowResult::settle(const std::string& why) {
  for (Step s : kSteps) {
    if (step(s).outcome == Outcome::kPending) {
      fail(s, why.empty() ? "the row ended before this step" : why);
      return;
    }
  }
}

bool RowResult::ok() const {
  for (Step s : kSteps) {
    if (step(s).outcome != Outcome::kPass) return false;
  }
  return true;
}

std::optional<Step> RowResult::first_failure() const {
  for (Step s : kSteps) {
    if (step(s).outcome == Outcome::kFail) return s;
  }
  return std::nullopt;
}

std::string short_reason(const std::string& message, size_t limit) {
  std::string line = message.substr(0, message.find('\n'));
  if (line.size() > limit) line = line.substr(0, limit - 3) + "...";
  return line;
}

}  // namespace side::conformance
