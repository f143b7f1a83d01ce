// `side run` for a disk driver (virtio_blk, nvme): the disk exported through NBD and FUSE, the verified workload, and
// their reports (text and --json).
#pragma once

#include <string>

#include "cli/args.h"
#include "domain/domain.h"

namespace side::cli {

// Whether `device` (a --device choice or the model fit_device chose) is a disk: PCI class 01 (mass storage).
bool is_disk_device(const std::string& device);

// Runs the session; the exit status: 0 clean, 1 an error or a mismatch.
int run_disk(const RunArgs& args, const domain::DomainConfig& config, const std::string& device);

}  // namespace side::cli
