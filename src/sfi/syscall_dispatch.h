// System calls from driver code in `--isolation sfi`: Linux's syscall user dispatch (PR_SET_SYSCALL_USER_DISPATCH)
// on every thread that runs driver code (the vCPUs). The range the kernel lets through is the C library's code,
// where side's own system calls are made; with no selector byte at all (nothing a driver could flip), every other
// `syscall` instruction raises SIGSYS. The handler tells the two apart by where the instruction is: in the module
// images it is the driver's (a fault, the call never made); elsewhere (the vDSO's fallback, a sanitizer's runtime)
// it is side's own, and the handler makes the call for it through the C library and resumes.
#pragma once

#include <signal.h>
#include <ucontext.h>

#include "common/result.h"

namespace side::sfi {

// The calling thread's system calls outside the C library raise SIGSYS from now on.
Status confine_syscalls();
// And no longer do.
void release_syscalls();
// From the SIGSYS handler: a dispatched system call (si_code SYS_USER_DISPATCH) from anywhere but driver code is
// carried out and the thread resumes: true. False when it is not such a signal or the caller is driver code.
bool emulate_host_syscall(const siginfo_t* info, ucontext_t* context);
// Whether a SIGSYS is a dispatched system call (rather than seccomp's).
bool dispatched(const siginfo_t* info);

}  // namespace side::sfi
