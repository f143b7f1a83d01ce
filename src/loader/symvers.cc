#include "loader/symvers.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace side::loader {

Result<KernelAbi> KernelAbi::load(const std::string& path, std::string vermagic) {
  std::ifstream in(path);
  if (!in) return make_error("cannot read " + path + " (is linux-headers installed?)");
  std::stringstream text;
  text << in.rdbuf();
  return parse(text.str(), path, std::move(vermagic));
}

Result<KernelAbi> KernelAbi::parse(const std::string& text, const std::string& path, std::string vermagic) {
  std::istringstream in(text);
  KernelAbi abi;
  abi.vermagic_ = std::move(vermagic);
  std::string line;
  size_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    // crc \t symbol \t provider \t export type [\t namespace]
    std::istringstream fields(line);
    std::string crc, name, provider, type;
    if (!std::getline(fields, crc, '\t') || !std::getline(fields, name, '\t') ||
        !std::getline(fields, provider, '\t') || !std::getline(fields, type, '\t')) {
      return make_error(path + ":" + std::to_string(lineno) + ": malformed line");
    }
    ExportedSymbolVersion v;
    v.crc = static_cast<uint32_t>(std::stoul(crc, nullptr, 16));
    v.provider = provider;
    v.gpl_only = type.find("GPL") != std::string::npos;
    abi.symbols_.emplace(std::move(name), std::move(v));
  }
  if (abi.symbols_.empty()) return make_error(path + ": no symbols");
  return abi;
}

const ExportedSymbolVersion* KernelAbi::find(const std::string& symbol) const {
  auto it = symbols_.find(symbol);
  return it == symbols_.end() ? nullptr : &it->second;
}

Status KernelAbi::check(const ModuleInfo& module,
                        const std::function<std::optional<uint32_t>(const std::string&)>& module_crc) const {
  std::string problems;
  std::string vermagic = module.get("vermagic");
  if (vermagic != vermagic_) {
    problems += "\n  version magic '" + vermagic + "' should be '" + vermagic_ + "'";
  }
  for (const SymbolVersion& v : module.versions) {
    const ExportedSymbolVersion* k = find(v.name);
    std::optional<uint32_t> crc;
    if (k) crc = k->crc;
    if (!crc && module_crc) crc = module_crc(v.name);
    if (!crc) {
      problems += "\n  no symbol version for '" + v.name + "'";
      continue;
    }
    if (*crc != v.crc) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "\n  disagrees about version of symbol '%s' (module 0x%08x, kernel 0x%08x)",
                    v.name.c_str(), v.crc, *crc);
      problems += buf;
    }
  }
  if (!problems.empty()) return make_error(module.name + ": built for a different kernel ABI:" + problems);
  return {};
}

}  // namespace side::loader
