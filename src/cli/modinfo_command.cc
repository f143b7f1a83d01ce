// side modinfo MODULE: what modinfo(8) prints, plus whether the module matches side's kernel ABI.
#include <cstdio>
#include <unordered_map>

#include "cli/commands.h"
#include "loader/dependency_walk.h"
#include "loader/elf_file.h"
#include "loader/module_index.h"
#include "loader/module_info.h"
#include "loader/module_loader.h"
#include "loader/symvers.h"

namespace side::cli {
namespace {

void field(const std::string& key, const std::string& value) {
  std::printf("%-16s%s\n", (key + ":").c_str(), value.c_str());
}

}  // namespace

namespace {

void print_entries(const std::string& path, const loader::ModuleInfo& info) {
  field("filename", path);
  field("name", info.name);
  for (const auto& [key, value] : info.entries) {
    if (key == "parm" || key == "parmtype" || key == "name" || key == "vermagic" || key == "depends") continue;
    field(key, value);
  }
  field("depends", info.get("depends"));
  for (const auto& p : info.parameters) {
    field("parm", p.name + ":" + p.description + (p.type.empty() ? "" : " (" + p.type + ")"));
  }
  for (const auto& id : info.pci_ids()) {
    auto part = [](uint32_t v) {
      char b[16];
      std::snprintf(b, sizeof b, v == 0xffffffff ? "*" : "%04x", v);
      return std::string(b);
    };
    field("pci id",
          part(id.vendor) + ":" + part(id.device) + " subsystem " + part(id.subvendor) + ":" + part(id.subdevice));
  }
  field("vermagic", info.get("vermagic"));
}

// The CRCs the module's dependencies (all of them, through the one dependency walk) export.
std::unordered_map<std::string, uint32_t> dependency_crcs(loader::ModuleIndex& index, const std::string& path) {
  std::unordered_map<std::string, uint32_t> crcs;
  loader::DependencyWalk walk;
  walk.open = [&](const std::string& name) { return loader::open_module(index, name); };
  walk.present = [](const std::string&) { return false; };
  walk.visit = [&](loader::OpenedModule& m, bool root) -> Status {
    if (!root) crcs.merge(loader::exported_crcs(m.elf));
    return {};
  };
  (void)walk.run(path);  // a dependency that cannot be read leaves its symbols unverified: the check names them
  return crcs;
}

// The ABI verdict: vermagic and every __versions CRC against Module.symvers of the headers side was built with.
int print_abi_verdict(const Paths& paths, loader::ModuleIndex& index, const std::string& path,
                      const loader::ModuleInfo& info) {
  auto kapi_elf = loader::ElfFile::read(paths.kapi);
  std::string expected_vermagic;
  if (kapi_elf) {
    if (auto kapi_info = loader::read_module_info(*kapi_elf)) expected_vermagic = kapi_info->get("vermagic");
  }
  auto abi = loader::KernelAbi::load(paths.symvers, expected_vermagic);
  if (!abi || expected_vermagic.empty()) {
    field("abi",
          "unknown (" + (abi ? std::string("kernel-API layer not built: ") + paths.kapi : abi.error().message) + ")");
    return 1;
  }
  // Symbols from dependencies are checked against the CRCs those modules export.
  const auto dep_crcs = dependency_crcs(index, path);
  auto lookup = [&](const std::string& s) -> std::optional<uint32_t> {
    auto it = dep_crcs.find(s);
    return it == dep_crcs.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  };
  if (auto s = abi->check(info, lookup); !s) {
    field("abi", "MISMATCH");
    std::fprintf(stderr, "side: %s\n", s.error().message.c_str());
    return 1;
  }
  field("abi", "matches " + expected_vermagic.substr(0, expected_vermagic.find(' ')) + " (vermagic and " +
                   std::to_string(info.versions.size()) + " symbol CRCs)");
  return 0;
}

}  // namespace

int modinfo_command(const ModinfoArgs& args) {
  const Paths paths = Paths::from_environment();
  loader::ModuleIndex index(paths.modules_dir);
  auto path = index.resolve(args.module);
  if (!path) return std::fprintf(stderr, "side: %s\n", path.error().message.c_str()), 1;
  auto elf = loader::ElfFile::read(*path);
  if (!elf) return std::fprintf(stderr, "side: %s\n", elf.error().message.c_str()), 1;
  auto info = loader::read_module_info(*elf);
  if (!info) return std::fprintf(stderr, "side: %s\n", info.error().message.c_str()), 1;
  print_entries(*path, *info);
  return print_abi_verdict(paths, index, *path, *info);
}

}  // namespace side::cli
