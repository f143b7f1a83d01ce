// The program of a domain process (`side __domain ...`, started by the supervisor; never by hand). It receives
// descriptors, never paths: the shared channel, the arena, the kernel-API layer, Module.symvers and each module
// to load. It builds the domain, maps every module, enters the sandbox just before the first driver code runs,
// and then serves the supervisor's requests on virtual CPU 0 until told to stop.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "ipc/optimisations.h"

namespace side::domain {

// The command line of a domain process: descriptor numbers and settings, validated (numbers strictly, every
// descriptor given, nothing unknown) without side effects.
struct DomainProcessArgs {
  int channel_fd = -1, arena_fd = -1, kapi_fd = -1, symvers_fd = -1;
  uint64_t arena_bytes = 0;
  std::vector<std::pair<std::string, int>> modules;  // dependency order; the last is the driver
  std::string params;
  bool allow_missing = false, real_time = false;
  ipc::Optimisations optimisations;
};
Result<DomainProcessArgs> parse_domain_args(const std::vector<std::string>& args);

int run_domain_process(const std::vector<std::string>& args);

}  // namespace side::domain
