#include "domain/faults.h"

#include <setjmp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "sandbox/sandbox.h"
#include "sfi/syscall_dispatch.h"

// side_call_on_stack(fn, arg, top): calls fn(arg) with the stack pointer at `top` and comes back to the caller's
// stack. A fault inside leaves through siglongjmp, which restores the caller's stack pointer itself.
extern "C" void side_call_on_stack(void (*fn)(void*), void* arg, uint64_t top);
asm(R"(
	.text
	.globl side_call_on_stack
	.type side_call_on_stack, @function
side_call_on_stack:
	.cfi_startproc
	pushq %rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq %rsp, %rbp
	.cfi_def_cfa_register %rbp
	movq %rdx, %rsp
	movq %rdi, %rax
	movq %rsi, %rdi
	call *%rax
	movq %rbp, %rsp
	popq %rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size side_call_on_stack, .-side_call_on_stack
)");

namespace side::domain {
namespace {

std::atomic<SignalClassifier*> g_classifier{nullptr};
thread_local sigjmp_buf* t_guard = nullptr;
thread_local uint64_t t_guarded_lo = 0, t_guarded_hi = 0;

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

bool run_guarded(GuardedFn fn, void* arg) {
  sigjmp_buf env;
  sigjmp_buf* outer = t_guard;
  if (sigsetjmp(env, 1) != 0) {
    t_guard = outer;
    return false;
  }
  t_guard = &env;
  const auto sp = reinterpret_cast<uint64_t>(__builtin_frame_address(0));
  if (t_guarded_hi && (sp < t_guarded_lo || sp >= t_guarded_hi)) {
    side_call_on_stack(fn, arg, t_guarded_hi);
  } else {
    fn(arg);
  }
  t_guard = outer;
  return true;
}

void set_guarded_stack(uint64_t lo, uint64_t hi) {
  t_guarded_lo = lo;
  t_guarded_hi = hi;
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
