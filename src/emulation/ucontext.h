// Conversion between a signal frame's saved registers and Registers. Kept apart from the emulator core so the core
// can be tested without signals.
#pragma once

#include <signal.h>
#include <ucontext.h>

#include <span>

#include "common/result.h"
#include "emulation/decode_cache.h"
#include "emulation/emulate.h"
#include "emulation/registers.h"

namespace side::emulation {

Registers registers_from_mcontext(const mcontext_t& mc);
// Writes back the general-purpose registers, RIP and RFLAGS; nothing else in `mc` is touched.
void registers_to_mcontext(const Registers& regs, mcontext_t& mc);

// Handles one SIGSEGV raised by a device access, from a signal handler:
//   1. reads the registers from `context`;
//   2. decodes `code` (the bytes at the faulting RIP, up to kMaxInstructionLength, clipped by the caller to what is
//      mapped) through `cache`;
//   3. cross-checks the decoded instruction against the fault: si_code == SI_KERNEL (#GP, si_addr 0) must be port
//      I/O, which ring 3 may not perform; any other SIGSEGV must be a memory access whose bytes
//      [effective address, + width) contain si_addr (the first byte that faulted);
//   4. emulates it against `bus` and writes the registers (and the advanced RIP) back into `context`.
// On error `context` is unchanged and the caller treats the fault as a driver fault. Returns the access performed.
// Allocation-free unless it fails.
Result<Access> emulate_trap(const siginfo_t& info, ucontext_t& context, std::span<const uint8_t> code,
                            DecodeCache& cache, Bus& bus);

}  // namespace side::emulation
