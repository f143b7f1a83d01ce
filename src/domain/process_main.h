// The program of a domain process (`side __domain ...`, started by the supervisor; never by hand). It receives
// descriptors, never paths: the shared channel, the arena, the kernel-API layer, Module.symvers and each module
// to load. It builds the domain, maps every module, enters the sandbox just before the first driver code runs,
// and then serves the supervisor's requests on virtual CPU 0 until told to stop.
#pragma once

#include <string>
#include <vector>

namespace side::domain {

int run_domain_process(const std::vector<std::string>& args);

}  // namespace side::domain
