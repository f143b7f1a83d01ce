// `side status`'s side of the control socket: asks every side running for this user (every "<pid>.sock" in the
// runtime directory) for its status document. Each exchange is bounded (the timeout, and kMaxAnswer bytes), and
// an answer that is not a JSON object is an error for that side, not for the others.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace side::service {

struct SideAnswer {
  pid_t pid = 0;
  std::string socket;
  std::optional<nlohmann::json> document;  // the answer, when there was one
  std::string error;                       // why not: "not running (a stale socket)", "timed out", ...
};

constexpr size_t kMaxAnswer = 1 << 20;

// One side's status, asked at `socket`.
SideAnswer query_side(const std::string& socket, pid_t pid, std::chrono::milliseconds timeout);
// Every side with a socket in `dir`, in pid order; empty when there is none (or no such directory).
std::vector<SideAnswer> query_all(const std::string& dir, std::chrono::milliseconds timeout);

}  // namespace side::service
