// The modules loaded into a domain's address space, the kernel-API layer first: lookups by name and by address,
// symbol names for addresses, and the symbols the modules export to the ones loaded after them.
//
// Module images never move and the table never reallocates (its capacity is reserved), so a lookup by address
// needs no lock: the signal handler that classifies a driver fault makes one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "loader/module_loader.h"

namespace side::domain {

class ModuleTable {
 public:
  static constexpr size_t kMaxModules = 64;
  ModuleTable() { modules_.reserve(kMaxModules); }

  bool full() const;
  // Takes a loaded module; the kernel-API layer is the first one added. nullptr when the table is full.
  loader::LoadedModule* add(loader::LoadedModule module);
  const loader::LoadedModule* kapi() const { return kapi_; }

  // A driver module (not the kernel-API layer) by name ('-' and '_' alike); nullptr if none.
  const loader::LoadedModule* find(const std::string& name) const;
  // The driver modules still loaded, in load order.
  std::vector<const loader::LoadedModule*> drivers() const;
  // The module whose image holds `addr` (lock-free; see above).
  const loader::LoadedModule* at(uint64_t addr) const;
  // "symbol+0xoff/0xsize [module]" (no offset unless `with_offset`; no module for the kernel-API layer).
  std::optional<std::string> symbolize(uint64_t addr, bool with_offset) const;

  // An exported symbol's address: the kernel-API layer's exports, then the drivers'.
  std::optional<uint64_t> resolve_export(const std::string& name) const;
  // The CRC a loaded module exports `symbol` with (for the ABI check of modules that import it).
  std::optional<uint32_t> export_crc(const std::string& symbol) const;
  // The name of a loaded module that depends on `name`, if any (it may not be unloaded then).
  std::optional<std::string> user_of(const std::string& name) const;
  // Forgets a module whose exit function ran: its image stays (code may still be referenced), its name goes.
  void mark_unloaded(const loader::LoadedModule* module);

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<loader::LoadedModule>> modules_;  // kapi first, in load order
  loader::LoadedModule* kapi_ = nullptr;
};

}  // namespace side::domain
