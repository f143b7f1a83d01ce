// What `--isolation sfi` adds to a domain's steps (src/sfi): after the kernel-API layer is loaded, the layer's
// checks are given the window, the rights bitmap and the branch targets, and the few kernel objects that drivers
// write without a call (the per-cpu preempt count, the struct page array) become writable; as each driver module
// is linked, its data and bss become writable and its functions valid branch targets (and stop being so when it
// goes). Everything else a driver may write is granted as the layer hands it out (host_services.cc).
#include <sys/mman.h>

#include <cstring>

#include "domain/domain.h"
#include "domain/layout.h"
#include "sfi/runtime.h"
#include "sfi/translate.h"

namespace side::domain {

Status Domain::sfi_after_kapi(const loader::LoadedModule& kapi) {
  sfi::Runtime* sfi = sfi::Runtime::active();
  if (!sfi) return make_error("the sfi runtime is not running");
  // Indirect branches may reach the layer's functions: the kernel functions a driver may call, and the layer's
  // own callbacks, which the layer's calls through its (checked, in sfi mode) thunks reach too.
  for (const auto& [name, address] : kapi.exports) {
    if (kapi.in_text(address)) sfi->set_branch_target(address, true);
  }
  for (const auto& symbol : kapi.symbols) {
    if (kapi.in_text(symbol.address)) sfi->set_branch_target(symbol.address, true);
  }
  auto state = kapi.entry_points.find("side_kapi_sfi");
  if (state == kapi.entry_points.end()) return make_error("the kernel-API layer has no sfi checks (side_kapi_sfi)");
  side_sfi_state s = sfi->kapi_state();
  s.io_base = devices_.window_region_base();
  s.io_len = s.io_base ? DeviceAccess::kWindowRegionSize : 0;
  s.layer_base = kapi.image;
  s.layer_len = kapi.image_size;
  std::memcpy(reinterpret_cast<void*>(state->second), &s, sizeof s);
  // Where each vCPU's stacks continue at a crossing (sfi_thunks.S); a per-cpu offset, never 0 (the kernel's
  // fixed_percpu_data is there).
  auto crossing = kapi.entry_points.find("side_kapi_sfi_crossing");
  if (crossing == kapi.entry_points.end() || !crossing->second) {
    return make_error("the kernel-API layer has no sfi crossing state");
  }
  sfi->set_crossing_offset(crossing->second);
  // preempt_disable() is an inline `incl %gs:__preempt_count` in every driver.
  if (auto preempt = kapi.exports.find("__preempt_count"); preempt != kapi.exports.end()) {
    for (unsigned cpu = 0; cpu < percpu().nr_cpus(); ++cpu) {
      sfi->rights().grant(percpu().base(cpu) + preempt->second, sizeof(int));
    }
  }
  // get_page()/put_page() and page flags are inline writes to struct page.
  sfi->rights().grant(space_.vmemmap_address(), arena().nr_pages() * kStructPageSize);
  return {};
}

// What the translator builds a driver's checks with: the window, the rights bitmap, and the layer's slow path.
Result<sfi::CheckAbi> Domain::sfi_check_abi() const {
  sfi::Runtime* sfi = sfi::Runtime::active();
  const loader::LoadedModule* kapi = space_.modules().kapi();
  if (!sfi || !kapi) return make_error("the sfi runtime is not running");
  auto entry = kapi->entry_points.find("side_kapi_sfi_violation");
  if (entry == kapi->entry_points.end()) return make_error("the kernel-API layer has no sfi slow path");
  const side_sfi_state s = sfi->kapi_state();
  const uint64_t crossing = sfi->crossing_offset();
  if (!crossing) return make_error("the kernel-API layer has no sfi crossing state");
  static_assert(SIDE_SFI_STACK_GUARD >= 2 * sfi::kStackSlack, "a probed step of rsp never passes a guard");
  return sfi::CheckAbi{s.window_base,
                       static_cast<unsigned>(s.window_log2),
                       s.rights,
                       entry->second,
                       crossing + SIDE_SFI_SCRATCH_SPILL,
                       crossing + SIDE_SFI_STACK_FLOOR,
                       SIDE_SFI_STACK_SPAN,
                       SIDE_SFI_SHADOW_OFFSET};
}

// A module's writable image pages (its data and bss: the loader leaves only those writable) and its per-cpu
// variables are the driver's; its functions are valid indirect-branch targets.
void Domain::sfi_module_loaded(const loader::LoadedModule& m, bool on) {
  sfi::Runtime* sfi = sfi::Runtime::active();
  if (!sfi) return;
  for (uint64_t page = m.image; page < m.image + m.image_size; page += kPageSize) {
    if (!(space_.private_memory().page_protection(page) & PROT_WRITE)) continue;
    if (on) {
      sfi->rights().grant(page, kPageSize);
    } else {
      sfi->rights().revoke(page, kPageSize);
    }
  }
  for (unsigned cpu = 0; m.percpu_size && cpu < percpu().nr_cpus(); ++cpu) {
    if (on) {
      sfi->rights().grant(percpu().base(cpu) + m.percpu_offset, m.percpu_size);
    } else {
      sfi->rights().revoke(percpu().base(cpu) + m.percpu_offset, m.percpu_size);
    }
  }
  for (const auto& symbol : m.symbols) {
    if (m.in_text(symbol.address)) sfi->set_branch_target(symbol.address, on);
  }
  if (on && !m.sfi_text.empty()) {
    sfi::TranslationCounts& t = sfi->translation();
    t.translated = true;
    t.write_sites += m.sfi_counts.write_sites;
    t.indirect_branches += m.sfi_counts.indirect_branches;
    t.returns += m.sfi_counts.returns;
  }
}

}  // namespace side::domain
