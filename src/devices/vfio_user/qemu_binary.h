// Where side finds its qemu-system-x86_64 with the vfio-user server: $SIDE_QEMU, else the one scripts/build-qemu.sh
// built into its cache (built there on first use when asked to: minutes, said on stderr while it runs).
#pragma once

#include <string>

#include "common/result.h"

namespace side::vfio_user {

// The binary's path if it is built (or named by $SIDE_QEMU); with `build`, builds it first when it is missing.
Result<std::string> find_qemu(bool build);

}  // namespace side::vfio_user
