// Network namespaces and interface configuration, through iproute2's `ip` (which every system with network
// namespaces has): a named peer namespace that is removed again however side ends, and address/link settings.
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
