#include "domain/trap_patcher.h"

#include <sys/mman.h>

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstddef>
#include <cstdio>
#include <cstring>

#include "common/log.h"
#include "domain/domain.h"
#include "domain/domain_bus.h"
#include "emulation/relocate.h"
#include "emulation/ucontext.h"
#include "kapi/sfi_abi.h"
#include "sfi/layout.h"
#include "sfi/runtime.h"

namespace side::domain {
namespace {

// The trampoline addresses the saved registers as an emulation::Registers on the stack.
static_assert(sizeof(emulation::Registers) == 0x90);
static_assert(offsetof(emulation::Registers, gpr) == 0);
static_assert(offsetof(emulation::Registers, rip) == 0x80);
static_assert(offsetof(emulation::Registers, rflags) == 0x88);
constexpr int32_t kFrame = 0x90;
constexpr unsigned kRsp = 4;

thread_local int t_call_depth = 0;

size_t hash(uint64_t rip, size_t size) {
  return static_cast<size_t>((rip * 0x9e3779b97f4a7c15ull) >> 32) & (size - 1);
}

// A small machine-code emitter for the fixed trampoline shape.
class Emitter {
 public:
  explicit Emitter(uint8_t* out) : out_(out) {}
  void bytes(std::initializer_list<uint8_t> b) {
    for (uint8_t x : b) out_[n_++] = x;
  }
  void raw(const uint8_t* p, unsigned len) {
    std::memcpy(out_ + n_, p, len);
    n_ += len;
  }
  void u32(uint32_t v) {
    std::memcpy(out_ + n_, &v, 4);
    n_ += 4;
  }
  void u64(uint64_t v) {
    std::memcpy(out_ + n_, &v, 8);
    n_ += 8;
  }
  // mov %reg, disp(%rsp) (store) or mov disp(%rsp), %reg (load): REX.W(+R) 89/8B, ModRM rm=100 with a SIB of 24,
  // mod=01 (disp8) when the displacement fits, else mod=10 (disp32).
  void rsp_slot(bool load, unsigned reg, int32_t disp) {
    const bool short_disp = disp >= -128 && disp <= 127;
    bytes({static_cast<uint8_t>(0x48 | (reg >= 8 ? 4 : 0)), static_cast<uint8_t>(load ? 0x8b : 0x89),
           static_cast<uint8_t>((short_disp ? 0x44 : 0x84) | ((reg & 7) << 3)), 0x24});
    if (short_disp)
      bytes({static_cast<uint8_t>(disp)});
    else
      u32(static_cast<uint32_t>(disp));
  }
  // lea disp32(%rsp), %reg (leaves the flags alone).
  void lea_rsp(unsigned reg, int32_t disp) {
    bytes({static_cast<uint8_t>(0x48 | (reg >= 8 ? 4 : 0)), 0x8d, static_cast<uint8_t>(0x84 | ((reg & 7) << 3)), 0x24});
    u32(static_cast<uint32_t>(disp));
  }
  unsigned size() const { return n_; }
  uint8_t* here() { return out_ + n_; }
  void skip(unsigned n) { n_ += n; }

 private:
  uint8_t* out_;
  unsigned n_ = 0;
};

}  // namespace

TrapPatcher::TrapPatcher(Domain& domain, PrivateMemory& memory) : domain_(domain), memory_(memory) {}

Status TrapPatcher::reserve() {
  auto pool = memory_.allocate_image(kPoolBytes);
  if (!pool) return pool.error();
  // Executable from now on; trampolines are written by patch_image() (never writable and executable at once).
  SIDE_TRY(memory_.protect(*pool, kPoolBytes, PROT_READ | PROT_EXEC));
  pool_ = *pool;
  return {};
}

void TrapPatcher::add_module(const loader::LoadedModule& mod) {
  if (!enabled_ || !pool_) return;
  ModuleTargets t{&mod, {}};
  for (auto [start, stop] : mod.text) {
    emulation::collect_branch_targets(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(start), stop - start),
                                      start, t.targets);
  }
  std::sort(t.targets.begin(), t.targets.end());
  std::lock_guard lock(mutex_);
  modules_.push_back(std::move(t));
}

namespace {

template <class Table, class Key>
typename Table::value_type::value_type lookup(const Table& table, uint64_t key, Key key_of) {
  for (size_t i = hash(key, table.size()), n = 0; n < table.size(); i = (i + 1) & (table.size() - 1), ++n) {
    auto* s = table[i].load(std::memory_order_acquire);
    if (!s) return nullptr;
    if (key_of(*s) == key) return s;
  }
  return nullptr;
}

template <class Table>
void insert(Table& table, uint64_t key, typename Table::value_type::value_type site) {
  for (size_t i = hash(key, table.size());; i = (i + 1) & (table.size() - 1)) {
    typename Table::value_type::value_type expected = nullptr;
    if (table[i].compare_exchange_strong(expected, site)) return;
  }
}

}  // namespace

TrapPatcher::Site* TrapPatcher::find(uint64_t rip) const {
  return lookup(table_, rip, [](const Site& s) { return s.rip; });
}

TrapPatcher::Site* TrapPatcher::find_start(uint64_t start) const {
  return lookup(starts_, start, [](const Site& s) { return s.start; });
}

TrapPatcher::Site* TrapPatcher::containing(uint64_t addr) const {
  size_t n = published_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    const Site& s = sites_[i];
    if (addr > s.start && addr < s.end) return const_cast<Site*>(&s);
  }
  return nullptr;
}

uint64_t TrapPatcher::origin(uint64_t addr) const {
  if (!in_pool(addr)) return addr;
  size_t i = (addr - pool_) / kTrampolineBytes;
  if (i >= published_.load(std::memory_order_acquire)) return addr;
  const Site& s = sites_[i];
  for (unsigned k = 0; k < s.plan.count; ++k) {
    if (addr == s.moved[k]) return s.plan_base + s.plan.insns[k].offset;
  }
  return s.rip;
}

uint64_t TrapPatcher::moved_to(const Site& site, uint64_t addr) {
  for (unsigned k = 0; k < site.plan.count; ++k) {
    if (addr == site.plan_base + site.plan.insns[k].offset) return site.moved[k];
  }
  if (site.prefix && addr == site.rip) return site.access_at;
  return 0;
}

void TrapPatcher::count_trap(bool in_trampoline) {
  traps_.fetch_add(1, std::memory_order_relaxed);
  if (in_trampoline) trampoline_traps_.fetch_add(1, std::memory_order_relaxed);
}

TrapStats TrapPatcher::stats() const {
  TrapStats s;
  s.traps_emulated = traps_.load();
  s.breakpoint_traps = breakpoints_.load();
  s.trampoline_traps = trampoline_traps_.load();
  s.sites_patched = patched_.load();
  s.sites_pending = pending_.load();
  s.sites_refused = refused_.load();
  s.refused_branch_target = refused_branch_.load();
  s.refused_unrelocatable = refused_reloc_.load();
  s.refused_other = refused_other_.load();
  s.patched_accesses = accesses_.load();
  s.prefix_sites = prefix_.load();
  s.stale_breakpoints = stale_.load();
  return s;
}

// ---- the trap side ------------------------------------------------------------------------------------------

// Performs the site's access on the trapped registers and continues in the trampoline after the access: the
// thread never resumes inside the range that is (or is about to be) overwritten.
SignalAction TrapPatcher::take_over(Site& site, ucontext_t* context) {
  traps_.fetch_add(1, std::memory_order_relaxed);
  emulation::Registers regs = emulation::registers_from_mcontext(context->uc_mcontext);
  regs.rip = site.rip;
  DomainBus bus(domain_);
  if (auto s = emulation::emulate(site.access, regs, bus); !s) {
    char message[256];
    std::snprintf(message, sizeof message, "device access at %#" PRIx64 " failed: %s",
                  emulation::effective_address(site.access, regs), s.error().message.c_str());
    domain_.record_fault(SIDE_FAULT_MEMORY, message, site.rip);
    return SignalAction::kAbandon;
  }
  regs.rip = site.resume;
  emulation::registers_to_mcontext(regs, context->uc_mcontext);
  return SignalAction::kResume;
}

std::optional<SignalAction> TrapPatcher::on_known_site(ucontext_t* context) {
  Site* s = find(static_cast<uint64_t>(context->uc_mcontext.gregs[REG_RIP]));
  if (!s) return std::nullopt;
  return take_over(*s, context);
}

std::optional<SignalAction> TrapPatcher::on_breakpoint(ucontext_t* context) {
  // int3 is a trap: RIP is already past it.
  Site* s = find_start(static_cast<uint64_t>(context->uc_mcontext.gregs[REG_RIP]) - 1);
  if (!s) return std::nullopt;
  breakpoints_.fetch_add(1, std::memory_order_relaxed);
  if (s->state.load() == State::kPatched) stale_.fetch_add(1, std::memory_order_relaxed);
  if (s->prefix) {
    // Nothing of the range has run yet: the whole of it runs in the trampoline, the access included.
    context->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(s->trampoline);
    return SignalAction::kResume;
  }
  return take_over(*s, context);
}

void TrapPatcher::on_emulated(const loader::LoadedModule& mod, const emulation::Access& access, ucontext_t* context) {
  if (!enabled_ || !pool_) return;
  if (!find(access.rip)) arm(mod, access);
  // Armed now (by this thread or, meanwhile, another): the emulated instruction's successor may be overwritten.
  if (Site* s = find(access.rip);
      s && static_cast<uint64_t>(context->uc_mcontext.gregs[REG_RIP]) == access.rip + access.length) {
    if (uint64_t to = moved_to(*s, access.rip + access.length)) {
      context->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(to);
    }
  }
}

void TrapPatcher::after_trap(ucontext_t* context) {
  const int cpu = Domain::current_vcpu();
  // The epoch moves first, the check follows: a site armed after the check was armed after the move, so its
  // snapshot does not count this move as a quiescent point (see quiescent()).
  if (cpu >= 0 && static_cast<size_t>(cpu) < kMaxVcpus) epoch_[cpu].fetch_add(2);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const uint64_t rip = static_cast<uint64_t>(context->uc_mcontext.gregs[REG_RIP]);
  if (Site* s = containing(rip)) {
    if (uint64_t to = moved_to(*s, rip)) context->uc_mcontext.gregs[REG_RIP] = static_cast<greg_t>(to);
  }
  poll();
}

void TrapPatcher::refuse(uint64_t rip, std::atomic<uint64_t>& reason) {
  // Called with mutex_ held. Each site is counted once; a full set only means recounting is skipped.
  for (size_t i = hash(rip, refused_sites_.size()), n = 0; n < refused_sites_.size();
       i = (i + 1) & (refused_sites_.size() - 1), ++n) {
    if (refused_sites_[i] == rip) return;
    if (refused_sites_[i] == 0) {
      refused_sites_[i] = rip;
      refused_.fetch_add(1, std::memory_order_relaxed);
      reason.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
}

bool TrapPatcher::enterable(const loader::LoadedModule& mod, const ModuleTargets& targets, uint64_t start,
                            uint64_t end) {
  auto t = std::upper_bound(targets.targets.begin(), targets.targets.end(), start);
  if (t != targets.targets.end() && *t < end) return true;
  auto sym = std::upper_bound(mod.symbols.begin(), mod.symbols.end(), start,
                              [](uint64_t a, const loader::ModuleSymbol& s) { return a < s.address; });
  return sym != mod.symbols.end() && sym->address < end;
}

bool TrapPatcher::refused_before(uint64_t rip) const {
  for (size_t i = hash(rip, refused_sites_.size()), n = 0; n < refused_sites_.size();
       i = (i + 1) & (refused_sites_.size() - 1), ++n) {
    if (refused_sites_[i] == rip) return true;
    if (refused_sites_[i] == 0) break;
  }
  return false;
}

bool TrapPatcher::trapped_enough(uint64_t rip) {
  for (size_t i = hash(rip, trapped_sites_.size()), n = 0; n < trapped_sites_.size();
       i = (i + 1) & (trapped_sites_.size() - 1), ++n) {
    auto& [site, traps] = trapped_sites_[i];
    if (site != rip && site != 0) continue;
    site = rip;
    return ++traps >= kTrapsBeforeRewrite;
  }
  return true;
}

void TrapPatcher::arm(const loader::LoadedModule& mod, const emulation::Access& access) {
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another vCPU is arming or switching a site: try again at the next trap
  const uint64_t rip = access.rip;
  if (refused_before(rip) || find(rip) || !trapped_enough(rip)) return;
  // String instructions iterate (and may stop between iterations); an access that writes RSP would have the
  // trampoline restore a stack pointer it is still using.
  const bool writes_rsp =
      (access.kind == emulation::Kind::kLoad || access.kind == emulation::Kind::kExchange ||
       access.kind == emulation::Kind::kPortIn || (access.kind == emulation::Kind::kAlu && !access.memory_first)) &&
      access.dst.index == kRsp;
  if (access.is_string() || writes_rsp) return refuse(rip, refused_other_);
  const std::optional<Placement> placement = place(mod, access);
  if (!placement) return;
  // Nor may it overlap another taken-over site (an access among the overlapped instructions that was rewritten
  // first).
  const size_t n = published_.load();
  for (size_t i = 0; i < n; ++i) {
    if (sites_[i].start < placement->end && placement->start < sites_[i].end) return refuse(rip, refused_other_);
  }
  if (n >= kMaxSites || (n + 1) * kTrampolineBytes > kPoolBytes) return refuse(rip, refused_other_);
  install(access, *placement);
}

// The jump overlaps the instructions after the access (a suffix) unless they cannot move or something may enter
// them; then it may end with the access instead (a prefix).
std::optional<TrapPatcher::Placement> TrapPatcher::place(const loader::LoadedModule& mod,
                                                         const emulation::Access& access) {
  const uint64_t rip = access.rip;
  uint64_t text_start = 0, text_end = 0;
  for (auto [start, stop] : mod.text) {
    if (rip >= start && rip < stop) text_start = start, text_end = stop;
  }
  const ModuleTargets* targets = nullptr;
  for (const auto& m : modules_) {
    if (m.module == &mod) targets = &m;
  }
  if (!text_end || !targets) {
    refuse(rip, refused_other_);
    return std::nullopt;
  }
  const size_t avail = std::min<uint64_t>(text_end - rip, emulation::kMaxRelocatedBytes + 15);
  std::span<const uint8_t> code(reinterpret_cast<const uint8_t*>(rip), avail);
  Placement p{rip, 0, false, emulation::plan_relocation(code, rip, access.length)};
  p.end = rip + p.plan.covered;
  if (!p.plan.refused && !enterable(mod, *targets, p.start, p.end)) return p;
  return place_prefix(mod, access, text_start, text_end, p.plan.refused ? refused_reloc_ : refused_branch_);
}

std::optional<TrapPatcher::Placement> TrapPatcher::place_prefix(const loader::LoadedModule& mod,
                                                                const emulation::Access& access, uint64_t text_start,
                                                                uint64_t text_end, std::atomic<uint64_t>& reason) {
  const uint64_t rip = access.rip;
  auto fn = std::upper_bound(mod.symbols.begin(), mod.symbols.end(), rip,
                             [](uint64_t a, const loader::ModuleSymbol& s) { return a < s.address; });
  if (fn == mod.symbols.begin() || (--fn)->address < text_start || fn->address > rip ||
      rip - fn->address > (1u << 16)) {
    refuse(rip, reason);
    return std::nullopt;
  }
  // Sites rewritten earlier in this function no longer hold their original instructions: decoding from the
  // function's start steps over them.
  std::array<std::pair<uint64_t, uint64_t>, kMaxSites> rewritten;
  size_t nr_rewritten = 0;
  for (size_t i = 0, n = published_.load(); i < n; ++i) {
    if (sites_[i].start >= fn->address && sites_[i].end <= rip) {
      rewritten[nr_rewritten++] = {sites_[i].start, sites_[i].end};
    }
  }
  Placement p;
  p.plan = emulation::plan_prefix(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(fn->address), text_end - fn->address), fn->address, rip,
      access.length, std::span(rewritten.data(), nr_rewritten));
  p.prefix = true;
  p.start = rip - p.plan.covered;
  p.end = rip + access.length;
  const ModuleTargets* targets = nullptr;
  for (const auto& m : modules_) {
    if (m.module == &mod) targets = &m;
  }
  if (p.plan.refused || enterable(mod, *targets, p.start, p.end)) {
    refuse(rip, reason);
    return std::nullopt;
  }
  return p;
}

// Builds the site's trampoline, publishes the site, then writes the int3 that starts taking it over.
void TrapPatcher::install(const emulation::Access& access, const Placement& placement) {
  const uint64_t rip = access.rip;
  const size_t n = published_.load();
  Site& site = sites_[n];
  site.access = access;
  site.rip = rip;
  site.start = placement.start;
  site.end = placement.end;
  site.prefix = placement.prefix;
  site.plan = placement.plan;
  site.plan_base = placement.prefix ? placement.start : rip;
  site.trampoline = pool_ + n * kTrampolineBytes;
  site.patcher = this;
  site.state.store(State::kArmed);
  uint8_t code_bytes[2 * kTrampolineBytes];  // room for any trampoline; the size is checked after building
  unsigned len = build_trampoline(site, code_bytes);
  if (len == 0 || len > kTrampolineBytes || !memory_.patch_image(site.trampoline, code_bytes, len)) {
    return refuse(rip, refused_other_);
  }
  // Publish before the int3 goes in: a vCPU that traps on either the old instruction or the int3 finds the site.
  published_.store(n + 1, std::memory_order_release);
  insert(table_, rip, &site);
  insert(starts_, site.start, &site);
  site.armed_by = Domain::current_vcpu();
  // The int3 and, if every other vCPU is already quiescent, the jump, in one write window: each window costs two
  // page-protection changes (TLB shootdowns, several microseconds each on a VM), and a probe rewrites hundreds of
  // sites. While the page is writable it is not executable, so no vCPU enters the range before the window ends.
  if (memory_.patch_image_with(
          site.start, 5,
          [](void* s, uint8_t* code) { static_cast<Site*>(s)->patcher->arm_in_window(*static_cast<Site*>(s), code); },
          &site)) {
    return;
  }
  const uint8_t int3 = 0xcc;  // (the 5 bytes span pages of different protections: the int3 alone)
  if (!memory_.patch_image(site.start, &int3, 1)) return;  // cannot happen: the site is in a module image
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (size_t v = 0; v < kMaxVcpus; ++v) site.epochs[v] = epoch_[v].load();
  pending_.fetch_add(1);
}

// Inside install()'s write window (the site's bytes writable, not executable): the int3, the epochs' snapshot, and
// the jump at once when no other vCPU can be inside the range.
void TrapPatcher::arm_in_window(Site& site, uint8_t* code) {
  code[0] = 0xcc;
  std::atomic_thread_fence(std::memory_order_seq_cst);
  for (size_t v = 0; v < kMaxVcpus; ++v) site.epochs[v] = epoch_[v].load();
  if (!quiescent(site)) {
    pending_.fetch_add(1);
    return;
  }
  write_jump(site, code);
  complete(site);
}

void TrapPatcher::write_jump(const Site& site, uint8_t* code) {
  const int32_t rel =
      static_cast<int32_t>(static_cast<int64_t>(site.trampoline) - static_cast<int64_t>(site.start + 5));
  std::memcpy(code + 1, &rel, 4);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  code[0] = 0xe9;
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void TrapPatcher::complete(Site& site) {
  site.state.store(State::kPatched);
  if (site.prefix) prefix_.fetch_add(1, std::memory_order_relaxed);
  patched_.fetch_add(1, std::memory_order_relaxed);
}

// Every other vCPU was idle when the int3 went in, or has since crossed a guarded-call boundary or finished a trap
// handler (where it was redirected out of any armed range): none can be inside the range.
bool TrapPatcher::quiescent(const Site& site) const {
  for (size_t v = 0; v < kMaxVcpus; ++v) {
    if (static_cast<int>(v) == site.armed_by) continue;
    const uint64_t e = site.epochs[v];
    if ((e & 1) && epoch_[v].load() == e) return false;
  }
  return true;
}

void TrapPatcher::poll() {
  if (pending_.load(std::memory_order_relaxed) == 0) return;
  std::unique_lock lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  const size_t n = published_.load();
  for (size_t i = 0; i < n; ++i) {
    Site& s = sites_[i];
    if (s.state.load() == State::kArmed && quiescent(s)) finish(s);
  }
}

// The displacement first, under the int3; the opcode last. A vCPU still executing a stale int3 traps and is
// taken over like before.
void TrapPatcher::finish(Site& site) {
  // One window: the page is not executable while it is written, so the order of the writes is not observable.
  (void)memory_.patch_image_with(
      site.start, 5, [](void* s, uint8_t* code) { write_jump(*static_cast<Site*>(s), code); }, &site);
  complete(site);
  pending_.fetch_sub(1);
}

// The trampoline: make room for a Registers frame below the driver's RSP (driver code is built with
// -mno-red-zone, so nothing lives there), save every GPR and RFLAGS into it, call patched_access(frame, site) on a
// 16-byte aligned stack, restore (the access may have changed a register and the arithmetic flags), then run the
// overlapped instructions unchanged and jump back behind them. In sfi mode the driver stack is writable by every
// vCPU's driver code, so patched_access runs on the layer's stack (kapi/sfi_abi.h: the crossing state's layer_sp)
// where no driver code can reach its frames; the Registers frame holds only the driver's own values.
unsigned TrapPatcher::build_trampoline(Site& site, uint8_t* out) {
  Emitter e(out);
  std::array<uint16_t, emulation::kMaxRelocated> offsets{};
  const std::span<const uint8_t> original(reinterpret_cast<const uint8_t*>(site.plan_base), site.plan.covered);
  auto relocate = [&](bool jump_back) {
    const uint64_t at = site.trampoline + e.size();
    const unsigned n = emulation::emit_relocated(site.plan, original, site.plan_base, at, e.here(), offsets, jump_back);
    for (unsigned k = 0; k < site.plan.count; ++k) site.moved[k] = at + offsets[k];
    e.skip(n);
    return n != 0 || (site.plan.count == 0 && !jump_back);
  };
  if (site.prefix && !relocate(/*jump_back=*/false)) return 0;
  site.access_at = site.trampoline + e.size();
  e.lea_rsp(kRsp, -kFrame);
  for (unsigned r = 0; r < 16; ++r) {
    if (r != kRsp) e.rsp_slot(false, r, static_cast<int32_t>(8 * r));
  }
  e.bytes({0x9c, 0x58});  // pushfq; pop %rax
  e.rsp_slot(false, 0, 0x88);
  e.lea_rsp(0, kFrame);  // the driver's RSP
  e.rsp_slot(false, 0, 8 * kRsp);
  e.bytes({0x48, 0x89, 0xe7});  // mov %rsp, %rdi
  e.bytes({0x48, 0xbe});        // movabs $site, %rsi
  e.u64(reinterpret_cast<uint64_t>(&site));
  e.bytes({0x48, 0x89, 0xe3});  // mov %rsp, %rbx (callee-saved)
  if (const sfi::Runtime* sfi = sfi::Runtime::active(); sfi && sfi->crossing_offset()) {
    // Only from a driver stack: the layer's own accesses already run on its stack, below layer_sp.
    e.bytes({0x48, 0x8d, 0x84, 0x24});  // lea -kStackBase(%rsp), %rax (rax and the flags are in the frame)
    e.u32(static_cast<uint32_t>(-static_cast<int64_t>(sfi::kStackBase)));
    e.bytes({0x48, 0x3d});  // cmp $(kStackLimit - kStackBase), %rax
    e.u32(static_cast<uint32_t>(sfi::kStackLimit - sfi::kStackBase));
    e.bytes({0x73, 0x09});                    // jae +9
    e.bytes({0x65, 0x48, 0x8b, 0x24, 0x25});  // mov %gs:layer_sp, %rsp
    e.u32(static_cast<uint32_t>(sfi->crossing_offset() + SIDE_SFI_LAYER_SP));
  }
  e.bytes({0x48, 0x83, 0xe4, 0xf0});  // and $-16, %rsp
  e.bytes({0x48, 0xb8});              // movabs $patched_access, %rax
  e.u64(reinterpret_cast<uint64_t>(&TrapPatcher::patched_access));
  e.bytes({0xff, 0xd0});        // call *%rax
  e.bytes({0x48, 0x89, 0xdc});  // mov %rbx, %rsp
  e.rsp_slot(true, 0, 0x88);
  e.bytes({0x50, 0x9d});  // push %rax; popfq
  for (unsigned r = 0; r < 16; ++r) {
    if (r != kRsp) e.rsp_slot(true, r, static_cast<int32_t>(8 * r));
  }
  e.lea_rsp(kRsp, kFrame);
  site.resume = site.trampoline + e.size();
  if (!site.prefix) return relocate(/*jump_back=*/true) ? e.size() : 0;
  // A prefix site continues right after the access.
  const int64_t rel = static_cast<int64_t>(site.end) - static_cast<int64_t>(site.resume + 5);
  if (rel < INT32_MIN || rel > INT32_MAX) return 0;
  e.bytes({0xe9});
  e.u32(static_cast<uint32_t>(static_cast<int32_t>(rel)));
  return e.size();
}

// Runs on the driver's stack in normal (not signal) context. A failing access is a driver fault exactly as on the
// trap path; the guarded call is abandoned with siglongjmp, so nothing with a destructor may be alive here then.
void TrapPatcher::patched_access(emulation::Registers* regs, const Site* site) {
  TrapPatcher& self = *site->patcher;
  self.accesses_.fetch_add(1, std::memory_order_relaxed);
  regs->rip = site->rip;
  char message[256];
  bool ok;
  {
    DomainBus bus(self.domain_);
    emulation::Registers copy = *regs;
    auto s = emulation::emulate(site->access, copy, bus);
    ok = static_cast<bool>(s);
    if (ok) {
      *regs = copy;
    } else {
      std::snprintf(message, sizeof message, "device access at %#" PRIx64 " failed: %s",
                    emulation::effective_address(site->access, *regs), s.error().message.c_str());
    }
  }
  if (!ok) self.domain_.fault(SIDE_FAULT_MEMORY, message, site->rip);
}

void TrapPatcher::call_entered() {
  const int cpu = Domain::current_vcpu();
  if (t_call_depth++ == 0 && cpu >= 0 && static_cast<size_t>(cpu) < kMaxVcpus) epoch_[cpu].fetch_add(1);
}

void TrapPatcher::call_left() {
  const int cpu = Domain::current_vcpu();
  if (--t_call_depth == 0 && cpu >= 0 && static_cast<size_t>(cpu) < kMaxVcpus) {
    epoch_[cpu].fetch_add(1);
    poll();
  }
}

}  // namespace side::domain
