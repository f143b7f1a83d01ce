#include "domain/faults.h"

#include <setjmp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kapi/sfi_abi.h"
#include "sandbox/sandbox.h"
#include "sfi/runtime.h"
#include "sfi/syscall_dispatch.h"

namespace side::domain {
namespace {

std::atomic<SignalClassifier*> g_classifier{nullptr};
thread_local sigjmp_buf* t_guard = nullptr;
thread_local uint64_t t_sfi_percpu = 0, t_sfi_driver_top = 0, t_sfi_stack_floor = 0;

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGSYS};

void crash_with(int sig, const siginfo_t* info, const ucontext_t* context) {
  // One line for whoever reads stderr (a domain process has nothing else left): what killed it, and where.
  char line[160];
  int n = std::snprintf(line, sizeof line, "side: fatal signal %d (code %d) at rip %#llx, address %p, syscall %d\n",
                        sig, info ? info->si_code : 0,
                        context ? static_cast<unsigned long long>(context->uc_mcontext.gregs[REG_RIP]) : 0ull,
                        info ? info->si_addr : nullptr, info && sig == SIGSYS ? info->si_syscall : -1);
  // Inside the sandbox the domain has no stderr (it is /dev/null, and write is refused): its exit status speaks.
  if (n > 0 && !sandbox::entered()) (void)!write(2, line, static_cast<size_t>(n));
  if (sandbox::entered()) {
    // Inside the sandbox neither sigaction nor raising a signal is allowed: end the process directly.
    syscall(SYS_exit_group, 128 + sig);
  }
  // Not a driver fault: restore the default action and let the signal take the process down (with a core).
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  sigaction(sig, &sa, nullptr);
  raise(sig);
}

void handler(int sig, siginfo_t* info, void* raw_context) {
  auto* context = static_cast<ucontext_t*>(raw_context);
  // sfi mode: side's own system calls from outside the C library are made for it (syscall_dispatch.h).
  if (sig == SIGSYS && sfi::emulate_host_syscall(info, context)) return;
  SignalClassifier* classifier = g_classifier.load();
  if (!t_guard || !classifier) {
    crash_with(sig, info, context);
    return;
  }
  switch (classifier->classify(sig, info, context)) {
    case SignalAction::kResume:
      return;
    case SignalAction::kAbandon:
      siglongjmp(*t_guard, 1);
    case SignalAction::kNotOurs:
      crash_with(sig, info, context);
      return;
  }
}

void install_handlers_once() {
  static bool installed = [] {
    for (int sig : kSignals) {
      struct sigaction sa {};
      sa.sa_sigaction = handler;
      sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
      sigemptyset(&sa.sa_mask);
      sigaction(sig, &sa, nullptr);
    }
    return true;
  }();
  (void)installed;
}

}  // namespace

void set_signal_classifier(SignalClassifier* classifier) {
  install_handlers_once();
  g_classifier.store(classifier);
}

namespace {

// The vCPU's crossing state as a guarded call found it (sfi mode; `at` null otherwise).
struct SavedCrossing {
  side_sfi_crossing* at = nullptr;
  side_sfi_crossing before{};
};

SavedCrossing enter_crossing(bool outermost) {
  if (!t_sfi_percpu) return {};
  const sfi::Runtime* sfi = sfi::Runtime::active();
  const uint64_t offset = sfi ? sfi->crossing_offset() : 0;
  if (!offset) return {};
  auto* at = reinterpret_cast<side_sfi_crossing*>(t_sfi_percpu + offset);
  SavedCrossing saved{at, *at};
  // Nested in another guarded call, driver code may be running further down the driver stack: it stays.
  if (outermost) at->driver_sp = t_sfi_driver_top;
  at->stack_floor = t_sfi_stack_floor;
  return saved;
}

void leave_crossing(const SavedCrossing& saved) {
  if (saved.at) *saved.at = saved.before;
}

}  // namespace

bool run_guarded(GuardedFn fn, void* arg) {
  sigjmp_buf env;
  sigjmp_buf* outer = t_guard;
  const SavedCrossing crossing = enter_crossing(outer == nullptr);
  if (sigsetjmp(env, 1) != 0) {
    t_guard = outer;
    leave_crossing(crossing);
    return false;
  }
  t_guard = &env;
  fn(arg);
  t_guard = outer;
  leave_crossing(crossing);
  return true;
}

void set_sfi_crossing(uint64_t percpu_base, uint64_t driver_top, uint64_t stack_floor) {
  t_sfi_percpu = percpu_base;
  t_sfi_driver_top = driver_top;
  t_sfi_stack_floor = stack_floor;
}

bool in_guarded_call() {
  return t_guard != nullptr;
}

void abandon_guarded_call() {
  if (!t_guard) {
    // A fault reported outside any guarded call is a bug in side itself.
    static const char msg[] = "side: driver fault reported outside a guarded call\n";
    (void)!write(2, msg, sizeof msg - 1);
    std::abort();
  }
  siglongjmp(*t_guard, 1);
}

namespace {

// The alternate stack lives as long as its thread.
struct AltStack {
  static constexpr size_t kSize = 256 * 1024;
  void* stack = nullptr;
  ~AltStack() {
    if (!stack) return;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, nullptr);
    munmap(stack, kSize);
  }
};
thread_local AltStack t_alt_stack;

}  // namespace

bool install_alternate_signal_stack() {
  if (t_alt_stack.stack) return true;
  void* stack = mmap(nullptr, AltStack::kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) return false;
  stack_t ss{};
  ss.ss_sp = stack;
  ss.ss_size = AltStack::kSize;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(stack, AltStack::kSize);
    return false;
  }
  t_alt_stack.stack = stack;
  return true;
}

}  // namespace side::domain
