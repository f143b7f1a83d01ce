// The runtime of `--isolation sfi` in one process: the window's fixed regions that are not the domain's own
// (driver stacks with their shadow stacks), the rights bitmap (rights.h), the set of valid indirect-branch
// targets, what the kernel-API layer's checks read (kapi/sfi_abi.h), the count of failed checks, and the
// confinement of system calls (syscall_dispatch.h). One sfi domain at a time per process, as for every domain.
#pragma once

#include <signal.h>

#include <atomic>
#include <cstdint>
#include <functional>

#include "common/result.h"
#include "kapi/sfi_abi.h"
#include "loader/module_loader.h"
#include "sfi/layout.h"
#include "sfi/rights.h"

namespace side::sfi {

// What the translator reports for a domain's loaded driver code (zero until it has translated anything).
struct TranslationCounts {
  uint64_t write_sites = 0;
  uint64_t indirect_branches = 0;
  uint64_t returns = 0;
  bool translated = false;  // whether driver code was rewritten at all
};

class Runtime {
 public:
  // The runtime of the sfi domain alive in this process, or nullptr (other modes, or none).
  static Runtime* active();
  // Reserves the driver stacks, the bitmaps, and makes the runtime active; fails if one already is.
  static Result<Runtime*> start(unsigned nr_cpus);
  // Revokes every right, forgets every target, frees the stacks; no runtime is active afterwards.
  static void stop();

  Rights& rights() { return *rights_; }
  // The driver stack of vCPU `cpu`, [lo, hi): the rest of its slot is the shadow. Its first and last kStackGuard
  // bytes are unmapped; rsp stays in [stack_floor, stack_floor + SIDE_SFI_STACK_SPAN).
  uint64_t stack_lo(unsigned cpu) const;
  uint64_t stack_hi(unsigned cpu) const { return stack_lo(cpu) + kStackSize; }
  uint64_t stack_floor(unsigned cpu) const { return stack_lo(cpu) + kStackGuard; }
  // Whether `addr` lies in the guard at either end of a driver stack (an overflow, or a walk of rsp, faults there).
  bool in_stack_guard(uint64_t addr) const;

  // Valid targets of the checked indirect thunks (function entries in the module image region).
  void set_branch_target(uint64_t addr, bool valid);
  bool valid_branch_target(uint64_t addr) const;
  // What the kernel-API layer's checks read.
  side_sfi_state kapi_state() const;
  // The per-cpu offset of the layer's crossing state (kapi/sfi_abi.h: struct side_sfi_crossing), once the layer
  // is loaded; 0 before.
  void set_crossing_offset(uint64_t offset) { crossing_offset_.store(offset, std::memory_order_release); }
  uint64_t crossing_offset() const { return crossing_offset_.load(std::memory_order_acquire); }

  // A check failed: counted, for `side run --json` (sfi.checks_failed).
  void count_failure() { failed_.fetch_add(1, std::memory_order_relaxed); }
  uint64_t checks_failed() const { return failed_.load(std::memory_order_relaxed); }
  TranslationCounts& translation() { return translation_; }
  const TranslationCounts& translation() const { return translation_; }
  // The translator's map from an address in translated code to the original instruction's address; identity
  // while nothing is translated.
  void set_origin(std::function<uint64_t(uint64_t)> origin) { origin_ = std::move(origin); }
  uint64_t origin(uint64_t addr) const { return origin_ ? origin_(addr) : addr; }

 private:
  Runtime() = default;
  Status reserve(unsigned nr_cpus);

  Rights* rights_ = nullptr;
  uint8_t* cfi_ = nullptr;  // one bit per byte of the module image region
  unsigned nr_cpus_ = 0;
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> crossing_offset_{0};
  TranslationCounts translation_;
  std::function<uint64_t(uint64_t)> origin_;
};

}  // namespace side::sfi
