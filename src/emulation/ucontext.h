// Conversion between a signal frame's saved registers and Registers. Kept apart from the emulator core so the core
// can be tested without signals.
#pragma once

#include <ucontext.h>

#include "emulation/registers.h"

namespace side::emulation {

Registers registers_from_mcontext(const mcontext_t& mc);
// Writes back the general-purpose registers, RIP and RFLAGS; nothing else in `mc` is touched.
void registers_to_mcontext(const Registers& regs, mcontext_t& mc);

}  // namespace side::emulation
