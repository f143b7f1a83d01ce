// Rewriting of trapping device-access sites into direct calls ("no trap on the hot path").
//
// Every driver readl()/writel() is an inline mov into a window that is never accessible, so it traps (SIGSEGV, ~4 µs)
// and is emulated. After a site's first successful emulation, the TrapPatcher replaces the instruction (and the
// short instructions after it that the 5-byte jump overlaps) by `jmp trampoline`. The trampoline saves the driver's
// registers in an emulation::Registers frame, calls the emulator with the site's pre-decoded Access on the same bus
// as the trap path, restores the registers, runs the overlapped instructions and jumps back.
//
// Safety rules of a rewrite (a refused site simply keeps trapping):
//  - the overlapped instructions are relocatable (emulation/relocate.h) and no direct branch target, local label
//    whose address is taken, or symbol lies strictly inside the rewritten range. Assumes what Debian's kernel
//    builds guarantee: no jump tables (retpolines imply -fno-jump-tables), and side applies neither __ex_table,
//    alternatives, static keys nor ORC, so no table points into the middle of driver code;
//  - other virtual CPUs may be running the same code. The site first gets an int3 at its first byte; a vCPU hitting
//    it (or still trapping on the original instruction) is emulated and resumed in the trampoline, never inside the
//    range. Only after every other vCPU has passed a quiescent point (outside any guarded call, or a guarded call
//    or trap handler boundary since the int3 was written) are the jump's displacement and then its opcode written.
//    Nothing here ever waits: the switch is completed by whichever thread next polls (a trap, or a guarded call's
//    end).
// All code bytes are written by PrivateMemory::patch_image(), which flips a page read+execute -> read+write and
// back (no writable alias exists; no page is ever writable and executable at once).
#pragma once

#include <signal.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "domain/faults.h"
#include "emulation/access.h"
#include "emulation/emulate.h"
#include "emulation/relocate.h"
#include "loader/module_loader.h"

namespace side::domain {

class Domain;
class PrivateMemory;

struct TrapStats {
  uint64_t traps_emulated = 0;    // device accesses emulated in a trap handler (SIGSEGV and int3)
  uint64_t breakpoint_traps = 0;  // of which at an armed site's int3 (before or just after the switch)
  uint64_t trampoline_traps = 0;  // of which by an overlapped instruction running in a trampoline
  uint64_t sites_patched = 0;     // sites now jumping to their trampoline
  uint64_t prefix_sites = 0;      // of which the jump ends with the access (overlapping the instructions before it)
  uint64_t sites_pending = 0;     // int3 written, waiting for the other vCPUs to be quiescent
  uint64_t sites_refused = 0;     // distinct sites left trapping
  uint64_t refused_branch_target = 0;  // ... because a branch target or symbol falls inside the range
  uint64_t refused_unrelocatable = 0;  // ... because an overlapped instruction cannot move
  uint64_t refused_other = 0;          // ... access kind, end of text, no room for trampolines
  uint64_t patched_accesses = 0;       // accesses performed through a trampoline
  uint64_t stale_breakpoints = 0;      // int3 hits after the jump went in (stale instruction bytes elsewhere)
};

class TrapPatcher {
 public:
  static constexpr size_t kMaxSites = 512;
  // A site is rewritten at its third trap: most of a probe's ~280 sites run once or twice (e1000: 120 once, 89
  // twice, a few thousand times each), and a trap (~3 us) costs less than a rewrite's page-protection changes (two
  // windows, ~10-25 us).
  static constexpr unsigned kTrapsBeforeRewrite = 3;
  static constexpr size_t kMaxVcpus = 8;

  TrapPatcher(Domain& domain, PrivateMemory& memory);
  TrapPatcher(const TrapPatcher&) = delete;
  TrapPatcher& operator=(const TrapPatcher&) = delete;

  // Allocates the executable trampoline pool near the module images. Normal context, before the sandbox (which
  // forbids making memory executable). Without it the patcher only counts.
  Status reserve();
  void set_enabled(bool on) { enabled_ = on; }
  // Learns a module's branch targets (a sweep of its text). Normal context, after loading, before its init.
  void add_module(const loader::LoadedModule& mod);

  // ---- from the signal handler (allocation- and wait-free) ----
  // A device-access SIGSEGV at a site the patcher has taken over (its first byte may already be int3 or a jump,
  // or the thread read the old bytes just before): performs the site's access and resumes in its trampoline.
  // nullopt if `rip` is no such site.
  std::optional<SignalAction> on_known_site(ucontext_t* context);
  // A SIGTRAP: if it is an armed site's int3, the same as on_known_site.
  std::optional<SignalAction> on_breakpoint(ucontext_t* context);
  // An access at `access.rip` in `mod` was emulated by the trap path: the site becomes a candidate for rewriting
  // (first trap). Redirects this thread into the trampoline if the site was armed.
  void on_emulated(const loader::LoadedModule& mod, const emulation::Access& access, ucontext_t* context);
  // The end of every trap handler on a vCPU: a quiescent point. Redirects the thread if it would resume strictly
  // inside a taken-over range, and completes pending rewrites.
  void after_trap(ucontext_t* context);

  // ---- guarded calls (quiescent points) ----
  void call_entered();
  void call_left();

  // The trampoline pool: traps inside it are attributed to the original instruction.
  bool in_pool(uint64_t addr) const { return pool_ && addr >= pool_ && addr < pool_ + kPoolBytes; }
  uint64_t pool_end() const { return pool_ + kPoolBytes; }
  // The driver address a trampoline address stands for (identity outside the pool).
  uint64_t origin(uint64_t addr) const;

  TrapStats stats() const;
  void count_trap(bool in_trampoline);

  // The C++ half of every trampoline (public for the generated code's sake).
  struct Site;
  static void patched_access(emulation::Registers* regs, const Site* site);

 private:
  static constexpr uint64_t kTrampolineBytes = 320;  // build_trampoline() emits at most ~240
  static constexpr uint64_t kPoolBytes = kMaxSites * kTrampolineBytes;

  enum class State : uint8_t { kArmed, kPatched };

  Site* find(uint64_t rip) const;          // by the access's address
  Site* find_start(uint64_t start) const;  // by the rewritten range's first byte
  Site* containing(uint64_t addr) const;   // a taken-over site whose range holds addr strictly after its start
  // Where a thread at `addr`, an instruction boundary strictly inside the site's range, continues in its trampoline
  // (0 if `addr` is no boundary of an overlapped instruction).
  static uint64_t moved_to(const Site& site, uint64_t addr);
  SignalAction take_over(Site& site, ucontext_t* context);
  void arm(const loader::LoadedModule& mod, const emulation::Access& access);
  // The steps of arm() (mutex_ held): a site refused before; where the jump goes (a suffix, else a prefix; refused
  // and nullopt if neither fits); the trampoline built and the int3 written.
  struct Placement {
    uint64_t start = 0, end = 0;
    bool prefix = false;
    emulation::RelocationPlan plan;
  };
  bool refused_before(uint64_t rip) const;
  // Counts a trap at `rip`; true once it has trapped kTrapsBeforeRewrite times (or its count cannot be kept).
  bool trapped_enough(uint64_t rip);
  struct ModuleTargets;
  // Whether anything may enter [start, end) except at its first byte: a branch target or a symbol (a function
  // pointer). Nothing may, for the range a jump overwrites.
  static bool enterable(const loader::LoadedModule& mod, const ModuleTargets& targets, uint64_t start, uint64_t end);
  std::optional<Placement> place(const loader::LoadedModule& mod, const emulation::Access& access);
  std::optional<Placement> place_prefix(const loader::LoadedModule& mod, const emulation::Access& access,
                                        uint64_t text_start, uint64_t text_end, std::atomic<uint64_t>& reason);
  void install(const emulation::Access& access, const Placement& placement);
  void refuse(uint64_t rip, std::atomic<uint64_t>& reason);
  bool quiescent(const Site& site) const;
  void poll();
  void finish(Site& site);
  void arm_in_window(Site& site, uint8_t* code);
  static void write_jump(const Site& site, uint8_t* code);
  void complete(Site& site);
  unsigned build_trampoline(Site& site, uint8_t* out);

  Domain& domain_;
  PrivateMemory& memory_;
  bool enabled_ = true;
  uint64_t pool_ = 0;

  std::mutex mutex_;  // only ever try_lock'ed from signal handlers
  struct ModuleTargets {
    const loader::LoadedModule* module;
    std::vector<uint64_t> targets;
  };
  std::vector<ModuleTargets> modules_;
  size_t nr_sites_ = 0;
  std::array<uint64_t, 1024> refused_sites_{};                       // open addressing, 0 = empty; under mutex_
  std::array<std::pair<uint64_t, unsigned>, 1024> trapped_sites_{};  // (rip, traps) likewise

 public:
  // A rewritten range [start, end) holds the access at `rip`. Usually start == rip and the jump overlaps the
  // instructions after the access (a suffix); when those cannot move (a branch target right behind the access) the
  // jump ends with the access instead and overlaps the instructions before it (a prefix).
  struct Site {
    emulation::Access access;
    uint64_t rip = 0;
    uint64_t start = 0, end = 0;
    bool prefix = false;
    uint64_t trampoline = 0;  // entry: a prefix's relocated instructions, or directly the register save
    uint64_t access_at = 0;   // trampoline address where the register save for the access starts
    uint64_t resume = 0;      // trampoline address right after the access (registers restored)
    uint64_t plan_base = 0;   // the plan's offsets are from here (rip for a suffix, start for a prefix)
    emulation::RelocationPlan plan;
    std::array<uint64_t, emulation::kMaxRelocated> moved{};  // trampoline address of plan.insns[i]
    std::atomic<State> state{State::kArmed};
    std::array<uint64_t, kMaxVcpus> epochs{};  // each vCPU's epoch when the int3 was written
    int armed_by = -1;
    TrapPatcher* patcher = nullptr;
  };

 private:
  std::array<Site, kMaxSites> sites_;
  std::array<std::atomic<Site*>, 2048> table_{};   // rip -> site, open addressing; published once, never removed
  std::array<std::atomic<Site*>, 2048> starts_{};  // start -> site, likewise
  std::atomic<size_t> published_{0};               // sites_[0, published_) are complete
  std::atomic<size_t> pending_{0};
  // Per vCPU: odd while inside a guarded call; every guarded-call boundary and trap-handler end moves it on.
  std::array<std::atomic<uint64_t>, kMaxVcpus> epoch_{};

  std::atomic<uint64_t> traps_{0}, breakpoints_{0}, trampoline_traps_{0}, patched_{0}, refused_{0}, refused_branch_{0},
      refused_reloc_{0}, refused_other_{0}, accesses_{0}, stale_{0}, prefix_{0};
};

}  // namespace side::domain
