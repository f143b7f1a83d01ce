#include "domain/driver_signals.h"

#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/log.h"
#include "common/strings.h"
#include "domain/domain.h"
#include "domain/domain_bus.h"
#include "domain/layout.h"
#include "domain/vcpu.h"
#include "emulation/access.h"
#include "emulation/ucontext.h"
#include "kapi/side_host.h"
#include "sfi/runtime.h"
#include "sfi/syscall_dispatch.h"

namespace side::domain {
namespace {

constexpr uint16_t kBugFlagWarning = 1 << 0;
constexpr uint16_t kBugFlagOnce = 1 << 1;

uint64_t reg(const ucontext_t* context, int r) {
  return static_cast<uint64_t>(context->uc_mcontext.gregs[r]);
}

}  // namespace

DriverSignals::DriverSignals(Domain& domain, unsigned vcpus) : d_(domain) {
  for (unsigned i = 0; i < vcpus; ++i) decode_caches_.push_back(std::make_unique<emulation::DecodeCache>());
}

SignalAction DriverSignals::abandon(int kind, const char* message, uint64_t rip) {
  d_.record_fault(kind, message, rip);
  return SignalAction::kAbandon;
}

SignalAction DriverSignals::classify(int sig, siginfo_t* info, ucontext_t* context) {
  TrapPatcher& patcher = d_.patcher();
  if (sig == SIGTRAP) {
    if (auto a = patcher.on_breakpoint(context)) {
      if (*a == SignalAction::kResume) patcher.after_trap(context);
      return *a;
    }
  }
  if (sig == SIGSEGV && retry_disturbed_fetch(info, context)) return SignalAction::kResume;
  // A fault in a trampoline is the driver's, at the instruction the trampoline stands for.
  const uint64_t rip = patcher.origin(reg(context, REG_RIP));
  const uint64_t rsp = reg(context, REG_RSP);
  const ModuleTable& modules = d_.address_space().modules();

  // A call into a missing symbol's slot faults with RIP inside the slot; the return address names the caller.
  if (std::string sym = d_.address_space().private_memory().missing_symbol_at(rip); !sym.empty()) {
    uint64_t caller = 0;
    if (modules.at(rsp) == nullptr) std::memcpy(&caller, reinterpret_cast<const void*>(rsp), sizeof caller);
    d_.record_fault(SIDE_FAULT_MISSING_SYMBOL, "call to unimplemented kernel function " + sym + "()", caller);
    return SignalAction::kAbandon;
  }
  const loader::LoadedModule* mod = modules.at(rip);
  if (!mod || !mod->in_text(rip)) return SignalAction::kNotOurs;

  switch (sig) {
    case SIGILL: {
      const auto* code = reinterpret_cast<const uint8_t*>(rip);
      if (code[0] == 0x0f && code[1] == 0x0b) return handle_bug(*mod, rip, context);
      return abandon(SIDE_FAULT_ILLEGAL_INSTRUCTION, "invalid opcode", rip);
    }
    case SIGSEGV:
      return classify_segv(info, context, *mod, rip);
    case SIGFPE:
      return abandon(SIDE_FAULT_ILLEGAL_INSTRUCTION, "divide error", rip);
    case SIGSYS: {
      char message[96];
      if (sfi::dispatched(info)) {
        // sfi mode: syscall user dispatch stopped it before the kernel ran it; RIP is past the 2-byte syscall.
        std::snprintf(message, sizeof message, "system call %d made by driver code, refused (sfi)", info->si_syscall);
        return abandon(SIDE_FAULT_SYSCALL, message, rip - 2);
      }
      std::snprintf(message, sizeof message, "system call %d refused by the domain's sandbox", info->si_syscall);
      return abandon(SIDE_FAULT_SYSCALL, message, rip);
    }
    default:
      d_.record_fault(SIDE_FAULT_MEMORY, std::string("signal ") + strsignal(sig), rip);
      return SignalAction::kAbandon;
  }
}

// A SIGSEGV in driver code: a device access, a touch of a missing symbol, a general-protection fault (a
// privileged instruction or a non-canonical address), or a plain bad access.
SignalAction DriverSignals::classify_segv(siginfo_t* info, ucontext_t* context, const loader::LoadedModule& mod,
                                          uint64_t rip) {
  const auto addr = reinterpret_cast<uint64_t>(info->si_addr);
  if (d_.device_access().in_window_region(addr) || info->si_code == SI_KERNEL) {
    if (SignalAction a = emulate_device_access(info, context, mod); a != SignalAction::kNotOurs) return a;
  }
  if (std::string sym = d_.address_space().private_memory().missing_symbol_at(addr); !sym.empty()) {
    d_.record_fault(SIDE_FAULT_MISSING_SYMBOL, "access to unimplemented kernel symbol " + sym, rip);
    return SignalAction::kAbandon;
  }
  if (info->si_code == SI_KERNEL) {
    return abandon(SIDE_FAULT_ILLEGAL_INSTRUCTION,
                   "general protection fault (privileged instruction or non-canonical address)", rip);
  }
  if (const sfi::Runtime* sfi = sfi::Runtime::active(); sfi && sfi->in_stack_guard(addr)) {
    d_.record_fault(SIDE_FAULT_MEMORY,
                    "driver stack overflow: access to " + hex(addr) + ", a guard of the driver stacks", rip);
    return SignalAction::kAbandon;
  }
  d_.record_fault(SIDE_FAULT_MEMORY, "unable to handle page fault for address: " + hex(addr), rip);
  return SignalAction::kAbandon;
}

SignalAction DriverSignals::handle_bug(const loader::LoadedModule& mod, uint64_t rip, ucontext_t* context) {
  const loader::BugSite* site = mod.find_bug(rip);
  std::string where = site && !site->file.empty() ? site->file + ":" + std::to_string(site->line) : "unknown";
  if (site && (site->flags & kBugFlagWarning)) {
    const bool quiet = (site->flags & kBugFlagOnce) && !d_.fault_log().first_warning(rip);
    if (!quiet) {
      const int cpu = current_vcpu();
      logf(LogLevel::kWarning, "WARNING: CPU: %d PID: %d at %s %s", cpu, cpu + 1, where.c_str(),
           d_.symbolize(rip).value_or(hex(rip)).c_str());
      logf(LogLevel::kWarning, "---[ end trace %016llx ]---", static_cast<unsigned long long>(0));
    }
    context->uc_mcontext.gregs[REG_RIP] += 2;  // past the ud2, as the kernel's report_bug() does for WARN
    return SignalAction::kResume;
  }
  logf(LogLevel::kError, "kernel BUG at %s!", where.c_str());
  d_.record_fault(SIDE_FAULT_BUG, "kernel BUG at " + where, rip);
  return SignalAction::kAbandon;
}

bool is_instruction_fetch(uint64_t fault_addr, uint64_t rip) {
  if (fault_addr == rip) return true;
  return fault_addr > rip && fault_addr - rip < emulation::kMaxInstructionLength && fault_addr % kPageSize == 0;
}

// An instruction fetch from a code page that a patch had flipped writable for a moment is fetched again. One that
// faults again with no patch in between is retried a few times more (the faulting thread may have been resumed
// while the pages were still being flipped back under load), then it is the driver's: its own code made
// non-executable is a fault, not an endless retry.
bool DriverSignals::retry_disturbed_fetch(const siginfo_t* info, const ucontext_t* context) {
  constexpr unsigned kRetriesWithoutPatch = 64;
  thread_local uint64_t last_addr = 0, last_seq = 0;
  thread_local unsigned same = 0;
  const auto addr = reinterpret_cast<uint64_t>(info->si_addr);
  if (info->si_code != SEGV_ACCERR || !is_instruction_fetch(addr, reg(context, REG_RIP))) return false;
  const std::optional<uint64_t> seq = d_.address_space().private_memory().wait_for_patch(addr);
  if (!seq) return false;
  if (addr == last_addr && *seq == last_seq) {
    if (++same > kRetriesWithoutPatch) return false;
    sched_yield();
    return true;
  }
  last_addr = addr;
  last_seq = *seq;
  same = 0;
  return true;
}

// Either an access inside a device window, or a general-protection fault that may be port I/O. kNotOurs means
// "not a device access": classify() goes on.
SignalAction DriverSignals::emulate_device_access(siginfo_t* info, ucontext_t* context,
                                                  const loader::LoadedModule& mod) {
  TrapPatcher& patcher = d_.patcher();
  // A site being rewritten: its bytes may be changing under us, so the patcher's decoding is the one to use.
  if (auto a = patcher.on_known_site(context)) {
    if (*a == SignalAction::kResume) patcher.after_trap(context);
    return *a;
  }
  const uint64_t rip = reg(context, REG_RIP);
  const bool in_trampoline = patcher.in_pool(rip);
  uint64_t end = in_trampoline ? patcher.pool_end() : rip;
  for (auto [start, stop] : mod.text) {
    if (rip >= start && rip < stop) end = stop;
  }
  size_t len = std::min<uint64_t>(end - rip, emulation::kMaxInstructionLength);
  std::span<const uint8_t> code(reinterpret_cast<const uint8_t*>(rip), len);
  const int cpu = current_vcpu();
  if (cpu < 0 || static_cast<size_t>(cpu) >= decode_caches_.size()) return SignalAction::kNotOurs;
  DomainBus bus(d_);
  auto r = emulation::emulate_trap(*info, *context, code, *decode_caches_[cpu], bus);
  if (r) {
    patcher.count_trap(in_trampoline);
    if (!in_trampoline) patcher.on_emulated(mod, *r, context);
    patcher.after_trap(context);
    return SignalAction::kResume;
  }
  // Another vCPU may have put an int3 over the instruction while this one was decoding it.
  if (auto a = patcher.on_known_site(context)) {
    if (*a == SignalAction::kResume) patcher.after_trap(context);
    return *a;
  }
  const auto addr = reinterpret_cast<uint64_t>(info->si_addr);
  if (info->si_code == SI_KERNEL && !d_.device_access().in_window_region(addr)) return SignalAction::kNotOurs;
  char message[256];
  std::snprintf(message, sizeof message, "device access at %s failed: %s", hex(addr).c_str(),
                r.error().message.c_str());
  d_.record_fault(SIDE_FAULT_MEMORY, message, patcher.origin(rip));
  return SignalAction::kAbandon;
}

}  // namespace side::domain
