// The program of a domain process (`side __domain ...`, started by the supervisor; never by hand). It receives
// descriptors, never paths: the shared channel, the arena, the kernel-API layer, Module.symvers and each module
// to load. It reads those files, maps its own memory and starts its threads, enters the sandbox, and only then
// parses, relocates and initialises the modules (no byte of a module is trusted outside the sandbox). Then it
// serves the supervisor's requests on virtual CPU 0 until told to stop. Its 0, 1 and 2 are /dev/null: it writes
// nothing anywhere but the channel.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "ipc/optimisations.h"

namespace side::domain {

// The exit status of a domain process that could not start (bad arguments or descriptors, no channel).
constexpr int kExitStartupFailed = 3;

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
