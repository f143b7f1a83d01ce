// The sandbox of a domain process, entered just before the first driver code runs (all memory mapped, all
// threads started, every descriptor it needs open):
//   1. no new privileges (PR_SET_NO_NEW_PRIVS), so nothing it could execute gains any;
//   2. when started as root, the process becomes nobody (uid/gid 65534, no supplementary groups);
//   3. every capability is dropped (effective, permitted, inheritable; the bounding set too, while still allowed);
//   4. a seccomp allowlist on every thread (libseccomp, TSYNC): only the system calls the domain runtime makes
//      after this point. A forbidden call raises SIGSYS, which the domain reports as a fault of the driver code
//      that made it (or, if side's own code made it, the domain dies and the supervisor reports that).
#pragma once

#include "common/result.h"

namespace side::sandbox {

Status enter();

// True once enter() succeeded in this process.
bool entered();

}  // namespace side::sandbox
