#include "loader/missing_imports.h"

#include <set>

#include "loader/dependency_walk.h"
#include "loader/module_loader.h"

namespace side::loader {

Result<ImportResolution> resolve_imports(ModuleIndex& index, const std::string& kapi_path, const std::string& module) {
  ImportResolution r;
  auto kapi = ElfFile::read(kapi_path);
  if (!kapi) return kapi.error();
  for (const auto& s : exported_symbols(*kapi, true)) r.provider.emplace(s, "side");
  // Not an export: the per-cpu area's first bytes, which every domain's address space provides (the stack canary).
  r.provider.emplace("fixed_percpu_data", "side");
  std::set<std::string> missing, walked;
  DependencyWalk walk;
  walk.open = [&](const std::string& name) { return open_module(index, name); };
  walk.present = [&](const std::string& name) { return walked.count(name) > 0; };
  // Dependencies come first, so a module's providers are all known when it is visited.
  walk.visit = [&](OpenedModule& m, bool root) -> Status {
    walked.insert(m.info.name);
    for (const auto& name : imported_symbols(m.elf)) {
      if (!r.provider.count(name)) missing.insert(name);
    }
    if (root) {
      r.imports = imported_symbols(m.elf);
    } else {
      for (const auto& s : exported_symbols(m.elf, false)) r.provider.emplace(s, m.info.name);
    }
    return {};
  };
  auto name = walk.run(module);
  if (!name) return name.error();
  r.module = *name;
  r.missing.assign(missing.begin(), missing.end());
  return r;
}

}  // namespace side::loader
