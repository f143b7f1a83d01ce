// side symbols MODULE [--missing]: every kernel symbol a module imports and who provides it.
#include <cstdio>

#include "cli/commands.h"
#include "loader/missing_imports.h"
#include "loader/module_index.h"

namespace side::cli {

int symbols_command(const SymbolsArgs& args) {
  Paths paths = Paths::from_environment();
  loader::ModuleIndex index(paths.modules_dir);
  // Who provides what: the kernel-API layer, then the module's dependencies (recursively), as at load time.
  auto resolved = loader::resolve_imports(index, paths.kapi, args.module);
  if (!resolved) {
    std::fprintf(stderr, "side: %s\n", resolved.error().message.c_str());
    return 1;
  }
  int missing = 0;
  for (const auto& name : resolved->imports) {
    auto it = resolved->provider.find(name);
    if (it == resolved->provider.end()) ++missing;
    if (args.only_missing) {
      if (it == resolved->provider.end()) std::printf("%s\n", name.c_str());
    } else {
      std::printf("%-8s %-40s %s\n", it == resolved->provider.end() ? "missing" : "ok", name.c_str(),
                  it == resolved->provider.end() ? "" : it->second.c_str());
    }
  }
  if (!args.only_missing) std::printf("%zu imports, %d missing\n", resolved->imports.size(), missing);
  return missing ? 1 : 0;
}

}  // namespace side::cli
