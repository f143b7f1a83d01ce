// Finds modules by name in the cache of Debian's module binaries, as modprobe does: '-' and '_' are the same,
// and a path (anything containing '/' or ending in .ko) is taken as it is.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace side::loader {

class ModuleIndex {
 public:
  explicit ModuleIndex(std::string modules_dir) : dir_(std::move(modules_dir)) {}

  // Resolves a name or path. A module given by path makes its directory a place to look for its dependencies
  // (searched before the cache), as modprobe's modules.dep would for a module tree of its own.
  Result<std::string> resolve(const std::string& name_or_path);
  const std::string& directory() const { return dir_; }
  // The names of every module in the directory, sorted (for shell completion).
  Result<std::vector<std::string>> names();

 private:
  Status scan();
  void add_local(const std::string& dir);
  std::string dir_;
  std::unordered_map<std::string, std::string> local_;
  bool scanned_ = false;
  std::unordered_map<std::string, std::string> by_name_;
};

}  // namespace side::loader
