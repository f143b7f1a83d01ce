// What a synchronous signal raised by driver code means, decided in the signal handler: a device access to
// emulate (a trapped MMIO or port-I/O instruction, or a site being rewritten), a WARN to report and step over, or
// a driver fault (BUG, bad memory access, missing symbol, forbidden system call, ...) to record, which abandons
// the guarded call. A signal outside driver code is not ours.
#pragma once

#include <signal.h>
#include <ucontext.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "domain/faults.h"
#include "emulation/decode_cache.h"
#include "loader/module_loader.h"

namespace side::domain {

class Domain;

// Whether a fault at `fault_addr` is the fetch of the instruction at `rip`: at its first byte, or, when the
// instruction straddles a page boundary, at the first byte of the next page (the part the CPU could not fetch).
bool is_instruction_fetch(uint64_t fault_addr, uint64_t rip);

class DriverSignals final : public SignalClassifier {
 public:
  DriverSignals(Domain& domain, unsigned vcpus);
  SignalAction classify(int sig, siginfo_t* info, ucontext_t* context) override;

 private:
  SignalAction classify_segv(siginfo_t* info, ucontext_t* context, const loader::LoadedModule& mod, uint64_t rip);
  SignalAction handle_bug(const loader::LoadedModule& mod, uint64_t rip, ucontext_t* context);
  SignalAction emulate_device_access(siginfo_t* info, ucontext_t* context, const loader::LoadedModule& mod);
  SignalAction abandon(int kind, const char* message, uint64_t rip);
  bool retry_disturbed_fetch(const siginfo_t* info, const ucontext_t* context);

  Domain& d_;
  std::vector<std::unique_ptr<emulation::DecodeCache>> decode_caches_;  // one per vCPU
};

}  // namespace side::domain
