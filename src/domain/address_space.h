// A domain's address space: its private regions (module images, stubs, the trampoline pool), its DMA-able arena,
// the per-cpu areas, the struct page array the kernel-API layer indexes, and the modules loaded into it. It is
// what the module loader lays a module out in and resolves its symbols against (loader::LoadEnvironment).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "domain/arena.h"
#include "domain/host_stubs.h"
#include "domain/module_table.h"
#include "domain/percpu.h"
#include "domain/private_memory.h"
#include "domain/sfi_stubs.h"
#include "loader/module_loader.h"

namespace side::domain {

class AddressSpace final : public loader::LoadEnvironment {
 public:
  AddressSpace(Arena arena, PercpuAreas percpu) : arena_(std::move(arena)), percpu_(std::move(percpu)) {}
  ~AddressSpace() override;
  AddressSpace(const AddressSpace&) = delete;
  AddressSpace& operator=(const AddressSpace&) = delete;

  // sfi mode (before reserve()): the struct page array and vmalloc go inside the sfi window, and a driver's import
  // of X binds to the kernel-API layer's checked variant side_kapi_sfi_X where the layer has one.
  void set_sfi(bool on) { sfi_ = on; }
  bool sfi() const { return sfi_; }
  // Reserves the fixed private regions and maps the struct page array (one entry per arena page).
  Status reserve();
  // Lays out the stubs through which the kernel-API layer reaches the host services (after reserve()).
  Status build_host_stubs() { return host_stubs_.build(private_); }
  // While the kernel-API layer itself is linked, its undefined symbols are host services (through the stubs).
  void set_linking_kapi(bool on) { linking_kapi_ = on; }

  PrivateMemory& private_memory() { return private_; }
  const PrivateMemory& private_memory() const { return private_; }
  Arena& arena() { return arena_; }
  const Arena& arena() const { return arena_; }
  PercpuAreas& percpu() { return percpu_; }
  const PercpuAreas& percpu() const { return percpu_; }
  ModuleTable& modules() { return modules_; }
  const ModuleTable& modules() const { return modules_; }
  // The struct page array: where it is mapped, and the base that (pfn * sizeof(struct page)) is added to.
  uint64_t vmemmap_address() const { return reinterpret_cast<uint64_t>(vmemmap_); }
  uint64_t vmemmap_base() const;

  // loader::LoadEnvironment
  Result<uint64_t> allocate_image(uint64_t size) override;
  Status protect_image(uint64_t addr, uint64_t size, bool write, bool exec) override;
  Result<uint64_t> allocate_percpu(uint64_t size, uint64_t align) override;
  void init_percpu(uint64_t offset, std::span<const uint8_t> init) override;
  std::optional<uint64_t> resolve(const std::string& name) override;
  Result<uint64_t> missing_symbol_address(const std::string& name) override;
  Result<uint64_t> call_binding(const std::string& name, uint64_t address) override;
  // sfi: the driver's import stubs laid out so far.
  const SfiStubs& sfi_stubs() const { return sfi_stubs_; }

 private:
  PrivateMemory private_;
  Arena arena_;
  PercpuAreas percpu_;
  ModuleTable modules_;
  HostStubs host_stubs_;  // what the kernel-API layer's host imports resolve to
  SfiStubs sfi_stubs_;    // sfi: what a driver's imports of layer functions resolve to
  void* vmemmap_ = nullptr;
  uint64_t vmemmap_bytes_ = 0;
  bool linking_kapi_ = false;
  bool sfi_ = false;
};

}  // namespace side::domain
