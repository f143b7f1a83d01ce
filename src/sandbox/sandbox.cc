#include "sandbox/sandbox.h"

#include <asm/prctl.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIDE_SANITIZER_RUNTIME 1
#endif
#endif

namespace side::sandbox {
namespace {

std::atomic<bool> g_entered{false};

Status drop_privileges() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return make_error("PR_SET_NO_NEW_PRIVS failed");
  // While still privileged: empty the bounding set so that no capability can ever come back.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  if (geteuid() == 0) {
    constexpr uid_t kNobody = 65534;
    if (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
        setresuid(kNobody, kNobody, kNobody) != 0) {
      return make_error(std::string("cannot become nobody: ") + std::strerror(errno));
    }
  }
  // A change of credentials clears the parent-death signal: set it again, so that the domain never outlives the
  // supervisor (and check that the supervisor did not go already).
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return make_error("PR_SET_PDEATHSIG failed");
  if (getppid() == 1) return make_error("the supervisor is gone");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &header, data) != 0) return make_error(std::string("capset: ") + std::strerror(errno));
  return {};
}

Status install_filter() {
  // Unlisted calls trap (SIGSYS): the domain attributes them to the code that made them.
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
  if (!ctx) return make_error("seccomp_init failed");
  struct Guard {
    scmp_filter_ctx c;
    ~Guard() { seccomp_release(c); }
  } guard{ctx};
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  auto allow = [&](int nr, unsigned count = 0, const scmp_arg_cmp* args = nullptr) {
    if (rc == 0) rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, count, args);
  };

  // Waiting and waking: doorbells, rings and locks (ipc/doorbell.h, lock back-off, vCPU loops).
  allow(SCMP_SYS(futex));
  allow(SCMP_SYS(sched_yield));
  allow(SCMP_SYS(nanosleep));
  allow(SCMP_SYS(clock_nanosleep));
  // The clock when the vDSO falls back to the system call (domain clock, jiffies, spin deadlines).
  allow(SCMP_SYS(clock_gettime));
  // get_random_bytes() and the stack canaries of virtual CPUs (side_host_random).
  allow(SCMP_SYS(getrandom));
  // Memory: malloc/free of the runtime and vmalloc (private anonymous memory), never executable. Module images
  // were made executable before the sandbox went up and cannot be changed to or from executable again.
  const scmp_arg_cmp no_exec{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0};
  allow(SCMP_SYS(mmap), 1, &no_exec);
  allow(SCMP_SYS(mprotect), 1, &no_exec);
  allow(SCMP_SYS(munmap));
  allow(SCMP_SYS(madvise));
  allow(SCMP_SYS(brk));
  // Guarded calls: sigsetjmp/siglongjmp save and restore the signal mask; handlers return with rt_sigreturn.
  allow(SCMP_SYS(rt_sigprocmask));
  allow(SCMP_SYS(rt_sigreturn));
  // Thread exit: a virtual CPU releases its alternate signal stack and clears its GS base.
  allow(SCMP_SYS(sigaltstack));
  const scmp_arg_cmp set_gs{0, SCMP_CMP_EQ, ARCH_SET_GS, 0};
  allow(SCMP_SYS(arch_prctl), 1, &set_gs);
  allow(SCMP_SYS(exit));
  allow(SCMP_SYS(exit_group));
  // Last-resort diagnostics of the runtime itself go to stderr (fd 2) only; everything else uses the rings.
  const scmp_arg_cmp to_stderr{0, SCMP_CMP_EQ, 2, 0};
  allow(SCMP_SYS(write), 1, &to_stderr);
  // glibc's abort() and raise() name the thread before signalling it; the signal itself is then refused.
  allow(SCMP_SYS(gettid));
  allow(SCMP_SYS(getpid));
#if defined(__SANITIZE_ADDRESS__) || defined(SIDE_SANITIZER_RUNTIME)
  // Sanitizer builds only: the runtime probes whether memory is readable by writing it into a pipe, reads
  // /proc/self/maps (read-only) to find thread stacks before every siglongjmp, and writes its reports.
  allow(SCMP_SYS(pipe2));
  allow(SCMP_SYS(close));
  allow(SCMP_SYS(read));
  allow(SCMP_SYS(write));
  allow(SCMP_SYS(fstat));
  allow(SCMP_SYS(newfstatat));
  allow(SCMP_SYS(lseek));
  const scmp_arg_cmp read_only{2, SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND, 0};
  allow(SCMP_SYS(openat), 1, &read_only);
  const scmp_arg_cmp get_own_limit[2] = {{0, SCMP_CMP_EQ, 0, 0}, {2, SCMP_CMP_EQ, 0, 0}};
  allow(SCMP_SYS(prlimit64), 2, get_own_limit);
  allow(SCMP_SYS(sched_getaffinity));
#endif
  if (rc != 0) return make_error(std::string("seccomp rule: ") + std::strerror(-rc));
  rc = seccomp_load(ctx);
  if (rc != 0) return make_error(std::string("seccomp_load: ") + std::strerror(-rc));
  return {};
}

}  // namespace

Status enter() {
  if (g_entered.load()) return {};
  if (auto s = drop_privileges(); !s) return s;
  if (auto s = install_filter(); !s) return s;
  g_entered = true;
  return {};
}

bool entered() {
  return g_entered.load();
}

}  // namespace side::sandbox
