#include "loader/dependency_walk.h"

#include <algorithm>

namespace side::loader {

Result<OpenedModule> open_module(ModuleIndex& index, const std::string& name_or_path) {
  auto path = index.resolve(name_or_path);
  if (!path) return path.error();
  auto elf = ElfFile::read(*path);
  if (!elf) return elf.error();
  auto info = read_module_info(*elf);
  if (!info) return info.error();
  return OpenedModule{std::move(*elf), std::move(*info), std::move(*path)};
}

Result<std::string> DependencyWalk::run(const std::string& root) const {
  std::vector<std::string> chain;
  return walk(root, chain);
}

Result<std::string> DependencyWalk::walk(const std::string& name_or_path, std::vector<std::string>& chain) const {
  auto module = open(name_or_path);
  if (!module) return module.error();
  const std::string name = module->info.name;
  if (present(name)) return name;
  if (std::find(chain.begin(), chain.end(), name) != chain.end()) {
    return make_error(name + ": circular module dependency");
  }
  chain.push_back(name);
  std::vector<std::string> deps = module->info.depends();
  for (std::string& t : module->info.transports()) deps.push_back(std::move(t));
  for (const std::string& dep : deps) {
    if (present(dep)) continue;
    if (auto s = walk(dep, chain); !s)
      return make_error(name + ": cannot load dependency " + dep + ": " + s.error().message);
  }
  chain.pop_back();
  SIDE_TRY(visit(*module, chain.empty()));
  return name;
}

}  // namespace side::loader
