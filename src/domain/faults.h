// Driver faults inside a domain.
//
// Every call from the host into driver or kernel-API code runs as a guarded call. A fault abandons the guarded
// call (with siglongjmp) and the call reports it; the domain is then faulty and runs no more driver code. Faults
// come from two places: signals raised by driver code (bad memory accesses, privileged or illegal instructions,
// BUG), classified by the domain; and checks in the kernel-API layer (double free, bad unlock, ...) reported
// through side_host_fault().
#pragma once

#include <signal.h>

#include <cstdint>
#include <string>

namespace side::domain {

enum class SignalAction {
  kResume,   // handled (a WARN, an emulated access): continue the driver where the context says
  kAbandon,  // a driver fault, already recorded: abandon the guarded call
  kNotOurs,  // not a driver fault: the host itself crashed
};

// Decides what a synchronous signal raised during a guarded call means. Runs in the signal handler.
class SignalClassifier {
 public:
  virtual ~SignalClassifier() = default;
  virtual SignalAction classify(int sig, siginfo_t* info, ucontext_t* context) = 0;
};

// Installs the handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP and SIGSYS (seccomp) (once per process) and makes
// `classifier` the one consulted (nullptr to detach).
void set_signal_classifier(SignalClassifier* classifier);

using GuardedFn = void (*)(void* arg);

// Runs fn(arg) on this thread. Returns false if a driver fault abandoned it.
bool run_guarded(GuardedFn fn, void* arg);

template <class F>
bool run_guarded(F&& f) {
  return run_guarded([](void* p) { (*static_cast<F*>(p))(); }, &f);
}

// sfi mode: this thread is the vCPU whose per-cpu area is at `percpu_base` and whose driver stack's top (below
// its gap, kapi/sfi_abi.h) is `driver_top`. Guarded calls run on the thread's own stack; the outermost one starts
// the driver stack afresh at driver_top (the layer enters driver code there: kapi/sfi_thunks.S), and each puts the
// vCPU's crossing state back as it found it, also when a fault abandons it. `stack_floor` is the lowest valid
// driver stack pointer (kapi/sfi_abi.h: SIDE_SFI_STACK_SPAN), which the checks read. (0, 0, 0): not an sfi vCPU.
void set_sfi_crossing(uint64_t percpu_base, uint64_t driver_top, uint64_t stack_floor);

// True while this thread is inside a guarded call.
bool in_guarded_call();

// Abandons the current guarded call. The caller has recorded the fault.
[[noreturn]] void abandon_guarded_call();

// Gives this thread an alternate signal stack, so a driver that overflows its stack is still caught.
bool install_alternate_signal_stack();

}  // namespace side::domain
