#include "domain/vcpu.h"

#include <asm/prctl.h>
#include <pthread.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "common/clock.h"
#include "domain/faults.h"
#include "domain/layout.h"
#include "sfi/runtime.h"
#include "sfi/syscall_dispatch.h"
#include "sfi/translate.h"

namespace side::domain {
namespace {

thread_local int t_vcpu = -1;
// The thread's stack, [lo, hi); empty when unknown.
thread_local uint64_t t_stack_lo = 0, t_stack_hi = 0;
// sfi mode: the driver stack guarded calls switch to, and whether system calls are confined.
thread_local uint64_t t_driver_stack_lo = 0, t_driver_stack_hi = 0;
thread_local bool t_syscalls_confined = false;

void record_stack() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* addr = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
    t_stack_lo = reinterpret_cast<uint64_t>(addr);
    t_stack_hi = t_stack_lo + size;
  }
  pthread_attr_destroy(&attr);
}

int set_gs_base(uint64_t base) {
  return static_cast<int>(syscall(SYS_arch_prctl, ARCH_SET_GS, base));
}

}  // namespace

int current_vcpu() {
  return t_vcpu;
}

Status become_vcpu(unsigned cpu, uint64_t percpu_base) {
  uint64_t canary;
  if (getrandom(&canary, sizeof canary, 0) != sizeof canary) canary = monotonic_ns() * 0x9e3779b97f4a7c15ull;
  std::memcpy(reinterpret_cast<void*>(percpu_base + kPercpuCanaryOffset), &canary, sizeof canary);
  if (set_gs_base(percpu_base) != 0) {
    return make_error(std::string("arch_prctl(ARCH_SET_GS): ") + std::strerror(errno));
  }
  if (!install_alternate_signal_stack()) return make_error("cannot install an alternate signal stack");
  record_stack();
  if (sfi::Runtime* sfi = sfi::Runtime::active()) {
    // Driver code runs on this vCPU's driver stack (with its shadow), the layer and side on this thread's own
    // stack (kapi/sfi_thunks.S), and driver code makes no system call.
    t_driver_stack_lo = sfi->stack_lo(cpu);
    t_driver_stack_hi = sfi->stack_hi(cpu);
    static_assert(SIDE_SFI_STACK_TOP_GAP > SIDE_SFI_STACK_GUARD + 8 * (SIDE_SFI_STACK_ARGS + 4));
    set_sfi_crossing(percpu_base, t_driver_stack_hi - SIDE_SFI_STACK_TOP_GAP, sfi->stack_floor(cpu));
    SIDE_TRY(sfi::confine_syscalls());
    t_syscalls_confined = true;
  }
  t_vcpu = static_cast<int>(cpu);
  return {};
}

namespace {

bool inside(uint64_t address, uint64_t size, uint64_t lo, uint64_t hi) {
  return address >= lo && size <= hi - lo && address - lo <= hi - lo - size;
}

}  // namespace

bool on_vcpu_stack(uint64_t address, uint64_t size) {
  return t_vcpu >= 0 &&
         (inside(address, size, t_stack_lo, t_stack_hi) || inside(address, size, t_driver_stack_lo, t_driver_stack_hi));
}

void leave_vcpu() {
  if (t_vcpu < 0) return;
  set_gs_base(0);
  if (t_syscalls_confined) sfi::release_syscalls();
  t_syscalls_confined = false;
  set_sfi_crossing(0, 0, 0);
  t_driver_stack_lo = t_driver_stack_hi = 0;
  t_vcpu = -1;
}

}  // namespace side::domain
