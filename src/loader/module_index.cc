#include "loader/module_index.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "common/strings.h"

namespace side::loader {

Status ModuleIndex::scan() {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) {
    return make_error("module directory " + dir_ + " does not exist (build the kernel-modules target)");
  }
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() != ".ko" || !it->is_regular_file(ec)) continue;
    by_name_.emplace(normalize_module_name(p.stem().string()), p.string());
  }
  if (ec) return make_error("cannot scan " + dir_ + ": " + ec.message());
  scanned_ = true;
  return {};
}

void ModuleIndex::add_local(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir.empty() ? "." : dir, ec)) {
    if (e.path().extension() == ".ko")
      local_.emplace(normalize_module_name(e.path().stem().string()), e.path().string());
  }
}

Result<std::string> ModuleIndex::resolve(const std::string& name) {
  if (name.find('/') != std::string::npos || name.ends_with(".ko")) {
    if (!std::filesystem::is_regular_file(name)) return make_error(name + ": no such file");
    add_local(std::filesystem::path(name).parent_path().string());
    return name;
  }
  if (auto it = local_.find(normalize_module_name(name)); it != local_.end()) return it->second;
  if (!scanned_) SIDE_TRY(scan());
  auto it = by_name_.find(normalize_module_name(name));
  if (it == by_name_.end()) return make_error("module " + name + " not found in " + dir_);
  return it->second;
}

Result<std::vector<std::string>> ModuleIndex::names() {
  if (!scanned_) SIDE_TRY(scan());
  std::vector<std::string> out;
  out.reserve(by_name_.size());
  for (const auto& [name, path] : by_name_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace side::loader
