// What a benchmark ran on: figures from one machine mean little without it.
#pragma once

#include <cstdint>
#include <string>

namespace side::bench {

struct MachineInfo {
  std::string cpu_model;  // /proc/cpuinfo "model name"
  unsigned cpus = 0;      // online
  uint64_t memory_bytes = 0;
  std::string kernel;      // uname -r and -m: "6.1.0-28-amd64 x86_64"
  std::string os;          // /etc/os-release PRETTY_NAME
  std::string hypervisor;  // empty on bare metal (the cpuinfo "hypervisor" flag)
  std::string compiler;
  std::string date_utc;  // when the benchmark started, ISO 8601
};

MachineInfo describe_machine();

}  // namespace side::bench
