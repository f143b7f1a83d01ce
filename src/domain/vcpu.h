// Which virtual CPU a thread is. A thread becomes vCPU n by pointing its GS base at per-cpu area n (the kernel's
// per-cpu accesses are %gs-relative), giving that area a fresh stack canary, and installing the alternate signal
// stack on which driver faults are handled.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace side::domain {

// The virtual CPU the calling thread is, or -1.
int current_vcpu();
Status become_vcpu(unsigned cpu, uint64_t percpu_base);
// The calling thread is no virtual CPU any more (GS base cleared).
void leave_vcpu();
// Whether [address, address + size) lies in the calling virtual CPU's own stack (recorded by become_vcpu; false on
// any other thread): a driver's local buffer, which string port I/O may read or fill.
bool on_vcpu_stack(uint64_t address, uint64_t size);

}  // namespace side::domain
