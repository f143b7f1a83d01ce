#include "domain/module_table.h"

#include "common/strings.h"

namespace side::domain {
namespace {

constexpr const char* kUnloaded = "(unloaded) ";

}  // namespace

bool ModuleTable::full() const {
  std::lock_guard lock(mutex_);
  return modules_.size() >= kMaxModules;
}

loader::LoadedModule* ModuleTable::add(loader::LoadedModule module) {
  std::lock_guard lock(mutex_);
  if (modules_.size() >= kMaxModules) return nullptr;
  modules_.push_back(std::make_unique<loader::LoadedModule>(std::move(module)));
  if (!kapi_) kapi_ = modules_.back().get();
  return modules_.back().get();
}

const loader::LoadedModule* ModuleTable::find(const std::string& name) const {
  const std::string n = normalize_module_name(name);
  std::lock_guard lock(mutex_);
  for (const auto& m : modules_) {
    if (m.get() != kapi_ && normalize_module_name(m->name) == n) return m.get();
  }
  return nullptr;
}

std::vector<const loader::LoadedModule*> ModuleTable::drivers() const {
  std::lock_guard lock(mutex_);
  std::vector<const loader::LoadedModule*> out;
  for (const auto& m : modules_) {
    if (m.get() != kapi_ && !m->name.starts_with(kUnloaded)) out.push_back(m.get());
  }
  return out;
}

const loader::LoadedModule* ModuleTable::at(uint64_t addr) const {
  for (size_t i = 0; i < modules_.size(); ++i) {
    if (modules_[i]->contains(addr)) return modules_[i].get();
  }
  return nullptr;
}

std::optional<std::string> ModuleTable::symbolize(uint64_t addr, bool with_offset) const {
  const loader::LoadedModule* m = at(addr);
  if (!m) return std::nullopt;
  auto s = m->symbolize(addr);
  if (!s) return std::nullopt;
  std::string out = *s;
  if (!with_offset) out = out.substr(0, out.find('+'));
  if (m != kapi_) out += " [" + m->name + "]";
  return out;
}

std::optional<uint64_t> ModuleTable::resolve_export(const std::string& name) const {
  if (kapi_) {
    if (auto it = kapi_->exports.find(name); it != kapi_->exports.end()) return it->second;
  }
  for (const auto* m : drivers()) {
    if (auto it = m->exports.find(name); it != m->exports.end()) return it->second;
  }
  return std::nullopt;
}

std::optional<uint32_t> ModuleTable::export_crc(const std::string& symbol) const {
  for (const auto* m : drivers()) {
    if (auto it = m->crcs.find(symbol); it != m->crcs.end()) return it->second;
  }
  return std::nullopt;
}

std::optional<std::string> ModuleTable::user_of(const std::string& name) const {
  const std::string n = normalize_module_name(name);
  for (const auto* other : drivers()) {
    for (const std::string& dep : other->info.depends()) {
      if (dep == n) return other->name;
    }
  }
  return std::nullopt;
}

void ModuleTable::mark_unloaded(const loader::LoadedModule* module) {
  std::lock_guard lock(mutex_);
  for (auto& p : modules_) {
    if (p.get() == module) p->name = kUnloaded + p->name;
  }
}

}  // namespace side::domain
