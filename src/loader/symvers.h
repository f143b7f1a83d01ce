// The kernel ABI a module must match: Module.symvers (the CRC of every exported symbol) and the vermagic string.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "loader/module_info.h"

namespace side::loader {

struct ExportedSymbolVersion {
  uint32_t crc = 0;
  std::string provider;  // "vmlinux" or the module path, e.g. drivers/net/ethernet/8390/8390
  bool gpl_only = false;
};

class KernelAbi {
 public:
  static Result<KernelAbi> load(const std::string& symvers_path, std::string vermagic);
  // The same from Module.symvers's contents; `path` names it in error messages.
  static Result<KernelAbi> parse(const std::string& text, const std::string& path, std::string vermagic);

  const std::string& vermagic() const { return vermagic_; }
  const ExportedSymbolVersion* find(const std::string& symbol) const;
  size_t size() const { return symbols_.size(); }

  // Refuses a module built for another kernel: vermagic must match exactly, and every __versions CRC must equal
  // the exported symbol's CRC. Collects every mismatch, not just the first.
  // Symbols exported by other modules are checked against `module_crc` (the exporting module's own CRC table)
  // when Module.symvers does not list them.
  Status check(const ModuleInfo& module,
               const std::function<std::optional<uint32_t>(const std::string&)>& module_crc = nullptr) const;

 private:
  std::string vermagic_;
  std::unordered_map<std::string, ExportedSymbolVersion> symbols_;
};

}  // namespace side::loader
