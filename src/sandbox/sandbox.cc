#include "sandbox/sandbox.h"

#include <asm/prctl.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/futex.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

#include "common/sanitizer.h"
#include "domain/layout.h"

namespace side::sandbox {
namespace {

// Where PROT_EXEC may be asked for: the block holding the domain's image region, aligned so that a seccomp mask
// can test it (it also holds the trap slots of missing symbols, which are never made accessible).
constexpr uint64_t kExecRegionBase = 0x60000000, kExecRegionSize = 0x20000000;
static_assert(domain::kImageBase >= kExecRegionBase && domain::kImageLimit <= kExecRegionBase + kExecRegionSize);
static_assert(kExecRegionBase % kExecRegionSize == 0);

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
  // Every thread of the domain exists already: no new task, whoever asks (checked for the real uid, nobody).
  const rlimit no_tasks{0, 0};
  if (setrlimit(RLIMIT_NPROC, &no_tasks) != 0) return make_error("cannot limit the domain's tasks");
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capset, &header, data) != 0) return make_error(std::string("capset: ") + std::strerror(errno));
  return {};
}

using AllowFn = std::function<void(int nr, unsigned count, const scmp_arg_cmp* args)>;

// futex: only waiting and waking, plain or with a bitset (glibc's condition variables and joins), private or
// shared (the doorbells in the channel), on either clock. No PI locks, no requeue, no wake-op.
void allow_waiting(const AllowFn& allow) {
  constexpr uint64_t kCommand = 0xffffffffu & ~static_cast<uint64_t>(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
  for (int op : {FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET}) {
    const scmp_arg_cmp futex_op{1, SCMP_CMP_MASKED_EQ, kCommand, static_cast<uint64_t>(op)};
    allow(SCMP_SYS(futex), 1, &futex_op);
  }
  // Lock back-off and vCPU loops; doorbell waits with a timeout.
  allow(SCMP_SYS(sched_yield), 0, nullptr);
  allow(SCMP_SYS(nanosleep), 0, nullptr);
  allow(SCMP_SYS(clock_nanosleep), 0, nullptr);
  // The clock when the vDSO falls back to the system call (domain clock, jiffies, spin deadlines).
  allow(SCMP_SYS(clock_gettime), 0, nullptr);
  // get_random_bytes() and the stack canaries of virtual CPUs (side_host_random).
  allow(SCMP_SYS(getrandom), 0, nullptr);
}

// Memory: malloc/free of the runtime and vmalloc are private anonymous memory, never executable, each mapping at
// most kMaxMapping (RLIMIT_AS bounds the sum). Module images are laid out after the sandbox is up: the loader and
// the code patcher make image pages read+execute again, so mprotect may add PROT_EXEC inside the image region
// only, and never together with PROT_WRITE (W^X holds for every page of the domain).
void allow_memory(const AllowFn& allow) {
  const scmp_arg_cmp no_exec{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0};
  const scmp_arg_cmp bounded[2] = {no_exec, {1, SCMP_CMP_LE, kMaxMapping, 0}};
  allow(SCMP_SYS(mmap), 2, bounded);
  allow(SCMP_SYS(mprotect), 1, &no_exec);
  const scmp_arg_cmp exec_image[2] = {{0, SCMP_CMP_MASKED_EQ, ~(kExecRegionSize - 1), kExecRegionBase},
                                      {2, SCMP_CMP_MASKED_EQ, PROT_WRITE | PROT_EXEC, PROT_EXEC}};
  allow(SCMP_SYS(mprotect), 2, exec_image);
  allow(SCMP_SYS(munmap), 0, nullptr);
  // glibc returns freed heap and thread stacks with MADV_DONTNEED (MADV_FREE where tuned). Nothing else: no
  // MADV_REMOVE (a hole punched in a shared memfd), no MADV_DONTFORK/WIPEONFORK games.
  for (int advice : {MADV_DONTNEED, MADV_FREE}) {
    const scmp_arg_cmp advice_is{2, SCMP_CMP_EQ, static_cast<uint64_t>(advice), 0};
    allow(SCMP_SYS(madvise), 1, &advice_is);
  }
  allow(SCMP_SYS(brk), 0, nullptr);
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
  const AllowFn allow_fn = [&](int nr, unsigned count, const scmp_arg_cmp* args) { allow(nr, count, args); };

  allow_waiting(allow_fn);
  allow_memory(allow_fn);
  // Guarded calls: sigsetjmp/siglongjmp save and restore the signal mask; handlers return with rt_sigreturn.
  allow(SCMP_SYS(rt_sigprocmask));
  allow(SCMP_SYS(rt_sigreturn));
  // Thread exit: a virtual CPU releases its alternate signal stack and clears its GS base.
  allow(SCMP_SYS(sigaltstack));
  const scmp_arg_cmp set_gs{0, SCMP_CMP_EQ, ARCH_SET_GS, 0};
  allow(SCMP_SYS(arch_prctl), 1, &set_gs);
  allow(SCMP_SYS(exit));
  allow(SCMP_SYS(exit_group));
  // No write at all: the domain's 0, 1 and 2 are /dev/null and everything it says goes through the channel.
  // glibc's abort() and raise() name the thread before signalling it; the signal itself is then refused.
  allow(SCMP_SYS(gettid));
  allow(SCMP_SYS(getpid));
#if defined(SIDE_SANITIZER_BUILD)
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
  // Its allocator maps large blocks, and advises the kernel about its shadow memory (no dump, no huge pages).
  const scmp_arg_cmp any_size_no_exec{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0};
  allow(SCMP_SYS(mmap), 1, &any_size_no_exec);
  allow(SCMP_SYS(madvise));
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
