// The sandbox of a domain process, entered before any byte of a module is parsed (all of the runtime's memory
// mapped, all threads started, every file read from its descriptor):
//   1. no new privileges (PR_SET_NO_NEW_PRIVS), so nothing it could execute gains any;
//   2. when started as root, the process becomes nobody (uid/gid 65534, no supplementary groups);
//   3. every capability is dropped (effective, permitted, inheritable; the bounding set too, while still allowed);
//   4. no new task ever (RLIMIT_NPROC 0 for nobody; clone is not in the allowlist either);
//   5. a seccomp allowlist on every thread (libseccomp, TSYNC): only the system calls the domain runtime makes
//      after this point, with their arguments narrowed (futex without PI or requeue, madvise without
//      MADV_REMOVE, mappings bounded and never writable and executable at once, no write to any descriptor).
//      A forbidden call raises SIGSYS, which the domain reports as a fault of the driver code that made it (or,
//      if side's own code made it, the domain dies and the supervisor reports that).
#pragma once

#include <cstdint>

#include "common/result.h"

namespace side::sandbox {

// The largest single mapping the domain may ask for once sandboxed (glibc reserves 128 MiB for each thread's
// malloc arena); RLIMIT_AS bounds the sum.
constexpr uint64_t kMaxMapping = 256ull << 20;

Status enter();

// True once enter() succeeded in this process.
bool entered();

}  // namespace side::sandbox
