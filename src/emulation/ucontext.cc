#include "emulation/ucontext.h"

#include <cinttypes>
#include <cstdio>

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

Result<Access> emulate_trap(const siginfo_t& info, ucontext_t& context, std::span<const uint8_t> code,
                            DecodeCache& cache, Bus& bus) {
  Registers regs = registers_from_mcontext(context.uc_mcontext);
  Result<Access> access = cache.decode(code, regs.rip);
  if (!access) return access;
  const Access& a = *access;
  char msg[160];
  if (info.si_code == SI_KERNEL) {
    // Ring-3 IN/OUT/INS/OUTS without I/O permission raise #GP (SDM Vol. 1, 19.5.2), which Linux reports as SIGSEGV with
    // SI_KERNEL. A memory access gets the same report only for a non-canonical address, which is no device access.
    if (!a.is_port_io()) {
      std::snprintf(msg, sizeof msg,
                    "general-protection fault at %#" PRIx64 " on a memory access (non-canonical address %#" PRIx64 "?)",
                    regs.rip, effective_address(a, regs));
      return Error{msg};
    }
  } else {
    const uint64_t fault = reinterpret_cast<uint64_t>(info.si_addr);
    const uint64_t ea = effective_address(a, regs);
    if (a.kind == Kind::kPortIn || a.kind == Kind::kPortOut || fault - ea >= a.width) {
      std::snprintf(msg, sizeof msg,
                    "fault address %#" PRIx64 " does not match the access at %#" PRIx64 " (address %#" PRIx64
                    ", %u bytes)",
                    fault, regs.rip, ea, a.width);
      return Error{msg};
    }
  }
  SIDE_TRY(emulate(a, regs, bus));
  registers_to_mcontext(regs, context.uc_mcontext);
  return access;
}

}  // namespace side::emulation
