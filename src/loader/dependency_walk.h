// The one walk over a module's dependencies, as modprobe orders a load: depth first, every dependency (its
// "depends=", then the bus transports it needs, ModuleInfo::transports()) before the modules that need it, each
// module once, a cycle refused. The domain loads modules in this order; the supervisor
// collects the images a domain process will be handed in it.
#pragma once

#include <functional>
#include <string>

#include "common/result.h"
#include "loader/elf_file.h"
#include "loader/module_index.h"
#include "loader/module_info.h"

namespace side::loader {

struct OpenedModule {
  ElfFile elf;
  ModuleInfo info;
  std::string path;  // where it was read from; empty for an image handed over without one
};

// Finds a module by name or path (module_index.h) and reads it: its image, validated, and its information.
Result<OpenedModule> open_module(ModuleIndex& index, const std::string& name_or_path);

struct DependencyWalk {
  // Reads a module by name or path.
  std::function<Result<OpenedModule>(const std::string& name_or_path)> open;
  // A module that needs no visit (loaded already, or collected): neither it nor its dependencies are walked.
  std::function<bool(const std::string& name)> present;
  // Called for each module not present, dependencies first; `root` for the module the walk was asked for.
  std::function<Status(OpenedModule& module, bool root)> visit;

  // Walks `root` (a name or a path) and what it depends on; returns the root's module name. An error names the
  // chain of modules that led to it ("a: cannot load dependency b: ...").
  Result<std::string> run(const std::string& root) const;

 private:
  Result<std::string> walk(const std::string& name_or_path, std::vector<std::string>& chain) const;
};

}  // namespace side::loader
