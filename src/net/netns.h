// Network namespaces and interface configuration, through iproute2's `ip` (which every system with network
// namespaces has): a named peer namespace that goes with its owner (or, if the owner was killed outright, with the
// next side that starts), and address/link settings.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"

namespace side::net {

// Runs `ip ARGS...` (no shell); its output is returned in the error when it fails.
Status ip(const std::vector<std::string>& args);
// Runs a program and returns its exit status, its stdout and stderr captured into `output` (if given).
int run_program(const std::vector<std::string>& argv, std::string* output = nullptr);

// True if this process may configure networking (CAP_NET_ADMIN in its user namespace).
bool have_net_admin();

// A named network namespace (`ip netns add`), deleted with everything in it when this object goes.
class NetNamespace {
 public:
  static Result<NetNamespace> create(const std::string& name);
  // PREFIX-<pid of this process>. A process killed outright (SIGKILL, a crash) cannot delete its namespace, so
  // first every PREFIX-<pid> whose process is gone is deleted, and so is a leftover of an earlier process that had
  // this pid: names stay unique and nothing abandoned accumulates.
  static Result<NetNamespace> create_owned(const std::string& prefix);
  NetNamespace(NetNamespace&& o) noexcept : name_(std::move(o.name_)) { o.name_.clear(); }
  NetNamespace& operator=(NetNamespace&&) = delete;
  ~NetNamespace();
  const std::string& name() const { return name_; }
  // `ip -n NAME ARGS...`
  Status ip(const std::vector<std::string>& args) const;

 private:
  explicit NetNamespace(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

}  // namespace side::net
