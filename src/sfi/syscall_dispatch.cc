#include "sfi/syscall_dispatch.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "domain/layout.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif

namespace side::sfi {
namespace {

struct Range {
  uint64_t start = 0, len = 0;
};

// The executable segment of the object that defines syscall(): the C library.
Range libc_text() {
  static const Range range = [] {
    Range r;
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void*>(&syscall), &info) || !info.dli_fbase) return r;
    struct Search {
      uint64_t base;
      Range out;
    } search{reinterpret_cast<uint64_t>(info.dli_fbase), {}};
    dl_iterate_phdr(
        [](dl_phdr_info* obj, size_t, void* data) {
          auto* s = static_cast<Search*>(data);
          for (int i = 0; i < obj->dlpi_phnum; ++i) {
            const auto& ph = obj->dlpi_phdr[i];
            if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X)) continue;
            const uint64_t start = obj->dlpi_addr + ph.p_vaddr;
            if (obj->dlpi_addr != s->base && start != s->base) continue;
            s->out = {start, ph.p_memsz};
            return 1;
          }
          return 0;
        },
        &search);
    return search.out;
  }();
  return range;
}

bool in_driver_code(uint64_t addr) {
  return addr >= domain::kImageBase && addr < domain::kMissingLimit;
}

}  // namespace

Status confine_syscalls() {
  const Range r = libc_text();
  if (!r.len) return make_error("cannot find the C library's code for syscall user dispatch");
  if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON, r.start, r.len, 0) != 0) {
    return make_error(std::string("PR_SET_SYSCALL_USER_DISPATCH: ") + std::strerror(errno));
  }
  return {};
}

void release_syscalls() {
  prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);
}

bool dispatched(const siginfo_t* info) {
  return info->si_signo == SIGSYS && info->si_code == SYS_USER_DISPATCH;
}

bool emulate_host_syscall(const siginfo_t* info, ucontext_t* context) {
  if (!dispatched(info) || in_driver_code(reinterpret_cast<uint64_t>(info->si_call_addr))) return false;
  greg_t* g = context->uc_mcontext.gregs;
  const int saved = errno;
  long r = syscall(info->si_syscall, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
  if (r == -1) r = -errno;  // as the kernel returns it
  errno = saved;
  g[REG_RAX] = r;
  return true;
}

}  // namespace side::sfi
