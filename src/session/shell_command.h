// Commands a session runs through the shell beside the driver: the user's --exec and --peer-exec, and the probes of
// `side conformance` (ping, iperf3), on the host or in the peer's network namespace. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <string>

namespace side::session {

// Starts `command` (sh -c) in the host's namespace, or in the named one through `ip netns exec`; -1 if it cannot.
// `own_group`: the command gets a process group of its own (the peer's commands, which nobody types at), so that
// stopping it stops what its shell started too. `output_fd` >= 0: its stdout and stderr go there.
pid_t spawn_shell(const std::string& command, const std::string& netns, bool own_group, int output_fd = -1);

// Stops a command spawn_shell() started, and its process group if it has its own: SIGTERM, then SIGKILL after 1 s.
void stop_child(pid_t pid);

struct ShellResult {
  int status = -1;  // the exit status, 128 + the signal that ended it, or -1 if it could not start
  bool timed_out = false;
  std::string output;  // its stdout and stderr, at most kMaxOutput bytes
  static constexpr size_t kMaxOutput = 1 << 20;
};

// Runs `command` to its end, capturing what it prints; stopped (with what it started) after `timeout_s` or as soon
// as `*stop` is set.
ShellResult run_shell(const std::string& command, const std::string& netns, double timeout_s,
                      const std::atomic<bool>* stop = nullptr);

}  // namespace side::session
