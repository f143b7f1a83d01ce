// The processes this process started that still exist (zombies included): what a clean close must leave none of
// (domain processes, QEMU device processes, commands run beside a driver).
#pragma once

#include <sys/types.h>

#include <vector>

namespace side::conformance {

std::vector<pid_t> child_processes();

}  // namespace side::conformance
