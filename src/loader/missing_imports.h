// Which kernel functions a module needs that nobody provides: its imports and those of every module it depends on
// (walked as a load walks them, loader/dependency_walk.h), each resolved as the loader resolves it: the kernel-API
// layer first, then the dependencies' exports. `side symbols` prints it; `side conformance` shows it per driver,
// and a driver with any missing cannot load (unless --allow-missing).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "loader/module_index.h"

namespace side::loader {

struct ImportResolution {
  std::string module;                           // the module's name
  std::vector<std::string> imports;             // the module's own imports, sorted
  std::map<std::string, std::string> provider;  // symbol -> "side" (the kernel-API layer) or the exporting module
  std::vector<std::string> missing;             // every import of the module or a dependency nobody provides, sorted
};

// `kapi_path` is the kernel-API layer module. An error if a module (or the layer) cannot be read.
Result<ImportResolution> resolve_imports(ModuleIndex& index, const std::string& kapi_path, const std::string& module);

}  // namespace side::loader
