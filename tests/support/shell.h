// Running commands from tests: one way to capture a command's output and status, and one way to keep what side
// creates on the network (interfaces, addresses, peer namespaces) apart from everything else on the machine.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace side::test_support {

// Runs COMMAND through /bin/sh; returns its standard output and sets *status to its exit status (-1 if a signal
// ended it or it could not start).
inline std::string run_shell(const std::string& command, int* status) {
  std::string out;
  *status = -1;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) out.append(buf.data(), n);
  const int rc = pclose(p);
  *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  return out;
}

// COMMAND in a network namespace of its own when this process may create one (root): two sides on one machine
// (tests run in parallel, beside whatever else runs) would otherwise share 10.77.0.0/24 and reach each other's
// peers.
inline std::string in_own_network_namespace(const std::string& command) {
  return geteuid() == 0 ? "unshare -n " + command : command;
}

}  // namespace side::test_support
