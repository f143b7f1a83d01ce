#include "emulation/ucontext.h"

namespace side::emulation {
namespace {

// glibc's gregs order (the kernel's struct sigcontext) is not the hardware encoding order.
constexpr int kGregOf[16] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
                             REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15};

}  // namespace

Registers registers_from_mcontext(const mcontext_t& mc) {
  Registers regs;
  for (int i = 0; i < 16; ++i) regs.gpr[i] = static_cast<uint64_t>(mc.gregs[kGregOf[i]]);
  regs.rip = static_cast<uint64_t>(mc.gregs[REG_RIP]);
  regs.rflags = static_cast<uint64_t>(mc.gregs[REG_EFL]);
  return regs;
}

void registers_to_mcontext(const Registers& regs, mcontext_t& mc) {
  for (int i = 0; i < 16; ++i) mc.gregs[kGregOf[i]] = static_cast<greg_t>(regs.gpr[i]);
  mc.gregs[REG_RIP] = static_cast<greg_t>(regs.rip);
  mc.gregs[REG_EFL] = static_cast<greg_t>(regs.rflags);
}

}  // namespace side::emulation
