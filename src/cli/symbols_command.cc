// side symbols MODULE [--missing]: every kernel symbol a module imports and who provides it.
#include <cstdio>
#include <map>
#include <set>

#include "cli/commands.h"
#include "loader/elf_file.h"
#include "loader/module_index.h"
#include "loader/module_info.h"
#include "loader/module_loader.h"

namespace side::cli {

int symbols_command(const SymbolsArgs& args) {
  const std::string& module = args.module;
  const bool only_missing = args.only_missing;
  Paths paths = Paths::from_environment();
  loader::ModuleIndex index(paths.modules_dir);
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "side: %s\n", e.message.c_str());
    return 1;
  };

  // Who provides what: the kernel-API layer, then the module's dependencies (recursively), as at load time.
  std::map<std::string, std::string> provider;
  auto kapi = loader::ElfFile::read(paths.kapi);
  if (!kapi) return fail(kapi.error());
  for (const auto& s : loader::exported_symbols(*kapi, true)) provider.emplace(s, "side");
  provider.emplace("fixed_percpu_data", "side");

  auto path = index.resolve(module);
  if (!path) return fail(path.error());
  auto elf = loader::ElfFile::read(*path);
  if (!elf) return fail(elf.error());
  auto info = loader::read_module_info(*elf);
  if (!info) return fail(info.error());

  std::vector<std::string> pending = info->depends();
  std::set<std::string> seen;
  while (!pending.empty()) {
    std::string dep = pending.back();
    pending.pop_back();
    if (!seen.insert(dep).second) continue;
    auto dep_path = index.resolve(dep);
    if (!dep_path) return fail(dep_path.error());
    auto dep_elf = loader::ElfFile::read(*dep_path);
    if (!dep_elf) return fail(dep_elf.error());
    auto dep_info = loader::read_module_info(*dep_elf);
    if (!dep_info) return fail(dep_info.error());
    for (const auto& s : loader::exported_symbols(*dep_elf, false)) provider.emplace(s, dep_info->name);
    for (const auto& d : dep_info->depends()) pending.push_back(d);
  }

  int missing = 0;
  for (const auto& name : loader::imported_symbols(*elf)) {
    auto it = provider.find(name);
    if (it == provider.end()) ++missing;
    if (only_missing) {
      if (it == provider.end()) std::printf("%s\n", name.c_str());
    } else {
      std::printf("%-8s %-40s %s\n", it == provider.end() ? "missing" : "ok", name.c_str(),
                  it == provider.end() ? "" : it->second.c_str());
    }
  }
  if (!only_missing) {
    std::printf("%zu imports, %d missing\n", loader::imported_symbols(*elf).size(), missing);
  }
  return missing ? 1 : 0;
}

}  // namespace side::cli
