#include "domain/address_space.h"

#include <sys/mman.h>

#include "domain/layout.h"
#include "sfi/layout.h"
#include "sfi/runtime.h"

namespace side::domain {

AddressSpace::~AddressSpace() {
  if (vmemmap_) munmap(vmemmap_, vmemmap_bytes_);
}

Status AddressSpace::reserve() {
  SIDE_TRY(private_.reserve());
  vmemmap_bytes_ = arena_.nr_pages() * kStructPageSize;
  void* at = nullptr;
  if (sfi_) {
    if (vmemmap_bytes_ > sfi::kVmemmapLimit - sfi::kVmemmapBase) return make_error("arena too large for sfi");
    at = reinterpret_cast<void*>(sfi::kVmemmapBase);
    private_.set_vmalloc_region(sfi::kVmallocBase, sfi::kVmallocLimit);
  }
  vmemmap_ = mmap(at, vmemmap_bytes_, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | (sfi_ ? MAP_FIXED_NOREPLACE : 0), -1, 0);
  if (vmemmap_ == MAP_FAILED) {
    vmemmap_ = nullptr;
    return make_error("cannot map the struct page array");
  }
  return {};
}

uint64_t AddressSpace::vmemmap_base() const {
  return reinterpret_cast<uint64_t>(vmemmap_) - (kArenaPhysBase / kPageSize) * kStructPageSize;
}

Result<uint64_t> AddressSpace::allocate_image(uint64_t size) {
  return private_.allocate_image(size);
}

Status AddressSpace::protect_image(uint64_t addr, uint64_t size, bool write, bool exec) {
  return private_.protect(addr, size, PROT_READ | (write ? PROT_WRITE : 0) | (exec ? PROT_EXEC : 0));
}

Result<uint64_t> AddressSpace::allocate_percpu(uint64_t size, uint64_t align) {
  uint64_t off = percpu_.allocate(size, align);
  if (!off) return make_error("per-cpu area exhausted");
  return off;
}

void AddressSpace::init_percpu(uint64_t offset, std::span<const uint8_t> init) {
  percpu_.initialize(offset, init);
}

std::optional<uint64_t> AddressSpace::resolve(const std::string& name) {
  if (linking_kapi_) return host_stubs_.address(name);
  auto address = modules_.resolve_export(name);
  if (sfi_ && modules_.kapi() && address) {
    // The checked variant of an export X is the layer's entry point side_kapi_sfi_X (side_kapi_* names are not
    // exports: no driver imports them). Only of an export: the layer's own sfi entry points (its crossings, their
    // state, the check reports) share the prefix, and a driver importing `enter_driver` must not reach them.
    const auto& entries = modules_.kapi()->entry_points;
    if (auto it = entries.find("side_kapi_sfi_" + name); it != entries.end()) return it->second;
  }
  if (address) return address;
  // The kernel's fixed_percpu_data sits at offset 0 of every per-cpu area; side reserves that space.
  if (name == "fixed_percpu_data") return 0;
  return std::nullopt;
}

// sfi mode: a driver calls a layer function through a stub that switches to the layer's stack (sfi_stubs.h);
// the compiler's thunks are bound to their checked variants directly.
Result<uint64_t> AddressSpace::call_binding(const std::string& name, uint64_t address) {
  const loader::LoadedModule* kapi = modules_.kapi();
  sfi::Runtime* sfi = sfi::Runtime::active();
  if (!sfi_ || linking_kapi_ || !kapi || !sfi || !kapi->in_text(address)) return address;
  const SfiStubs::Binding binding = SfiStubs::binding(name);
  if (binding == SfiStubs::Binding::kDirect) return address;
  auto enter = kapi->entry_points.find("side_kapi_sfi_enter_layer");
  if (enter == kapi->entry_points.end() || !sfi->crossing_offset()) {
    return make_error("the kernel-API layer has no sfi crossing");
  }
  auto stub = sfi_stubs_.stub(private_, address, binding, {enter->second, sfi->crossing_offset()});
  if (stub && *stub != address) sfi->set_branch_target(*stub, true);
  return stub;
}

Result<uint64_t> AddressSpace::missing_symbol_address(const std::string& name) {
  return private_.missing_symbol_address(name);
}

}  // namespace side::domain
