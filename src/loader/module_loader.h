// Loads one validated kernel module into a driver domain, as the kernel's load_module() does, in named phases:
//
//   layout     place allocated sections in one image below 2 GiB (text, then read-only, then writable data),
//              and per-cpu sections in the per-cpu area
//   resolve    give every symbol its address; undefined ones come from the environment (the kernel-API layer,
//              then modules loaded earlier); unknown ones refuse the load, listing every name, unless allowed
//   relocate   apply every RELA entry with overflow checks (PC32, PLT32, 64, 32, 32S, PC64)
//   protect    text read+execute, read-only data read-only
//   (sfi)      with LoadOptions::sfi, every executable section is first rewritten by the sfi translator
//              (sfi/translate.h) and laid out at its translated size; relocations inside it land where their
//              instruction went, and every relocation (from any section: function pointers, __bug_table,
//              __jump_table, .altinstructions, ORC, ...) whose target lies in a translated section is mapped to the
//              target's new offset; a target that is not an instruction boundary refuses the load
//   collect    exports, the symbol map used for "symbol+off/size [module]", __bug_table, __param, init/exit
//
// Validation of the file itself (ElfFile::parse), module metadata (read_module_info) and the ABI check
// (KernelAbi::check) come before; calling init comes after, in the domain.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "loader/elf_file.h"
#include "loader/module_info.h"
#include "sfi/check_abi.h"
#include "sfi/code_map.h"
#include "sfi/translate.h"

namespace side::loader {

// What the loader needs from the domain it loads into.
class LoadEnvironment {
 public:
  virtual ~LoadEnvironment() = default;
  // A zeroed, writable block of `size` bytes below 2 GiB.
  virtual Result<uint64_t> allocate_image(uint64_t size) = 0;
  virtual Status protect_image(uint64_t addr, uint64_t size, bool write, bool exec) = 0;
  // An offset in every virtual CPU's per-cpu area; `init` is copied into each CPU's copy.
  virtual Result<uint64_t> allocate_percpu(uint64_t size, uint64_t align) = 0;
  virtual void init_percpu(uint64_t offset, std::span<const uint8_t> init) = 0;
  // The address of a kernel symbol this module may import, or nullopt.
  virtual std::optional<uint64_t> resolve(const std::string& name) = 0;
  // The trap address standing for a symbol nobody provides (used only when missing symbols are allowed).
  virtual Result<uint64_t> missing_symbol_address(const std::string& name) = 0;
  // What a call or jump (an R_X86_64_PLT32 relocation) to the imported symbol `name`, resolved to `address`,
  // goes to: the address itself, unless the environment puts something between caller and callee (sfi: a stub
  // that switches stacks). Only calls: a function's address taken as data stays the function's own, so that it
  // compares equal to what the kernel-API layer expects.
  virtual Result<uint64_t> call_binding(const std::string& name, uint64_t address) {
    (void)name;
    return address;
  }
};

struct LoadOptions {
  bool allow_missing = false;
  // For the kernel-API layer: its own imports are the host's services, and every global it defines is a kernel
  // symbol. For drivers: only EXPORT_SYMBOL'ed names are exported.
  bool export_all_globals = false;
  // Translate the executable sections for `--isolation sfi` with this write window (nullptr: load as is). The
  // caller keeps it alive for the call.
  const sfi::CheckAbi* sfi = nullptr;
};

// One translated executable section of a loaded module.
struct SfiText {
  uint64_t start = 0, end = 0;  // its translated code in the image (the literal pool included)
  std::string section;          // ".text", ".init.text", ...
  sfi::CodeMap map;             // original section offset <-> offset from start
};

struct ModuleSymbol {
  uint64_t address = 0;
  uint64_t size = 0;
  std::string name;
};

struct BugSite {
  uint64_t address = 0;  // of the ud2
  std::string file;
  uint16_t line = 0;
  uint16_t flags = 0;  // BUGFLAG_WARNING, BUGFLAG_ONCE, ...
};

struct LoadedModule {
  std::string name;
  std::string path;
  ModuleInfo info;
  uint64_t image = 0;
  uint64_t image_size = 0;
  std::vector<std::pair<uint64_t, uint64_t>> text;  // executable ranges [start, end)
  uint64_t percpu_offset = 0;
  uint64_t percpu_size = 0;
  std::vector<ModuleSymbol> symbols;  // sorted by address
  std::unordered_map<std::string, uint64_t> exports;
  std::unordered_map<std::string, uint32_t> crcs;  // modversions CRCs of the exports
  // The kernel-API layer's side_kapi_* functions the host calls (only with LoadOptions::export_all_globals).
  std::unordered_map<std::string, uint64_t> entry_points;
  std::vector<BugSite> bugs;  // sorted by address
  std::vector<std::string> missing;
  uint64_t init = 0;
  uint64_t exit = 0;
  uint64_t this_module = 0;
  uint64_t params = 0;
  uint32_t nr_params = 0;
  std::vector<SfiText> sfi_text;      // empty unless loaded with LoadOptions::sfi
  sfi::TranslateCounts sfi_counts{};  // summed over sfi_text

  // For a translated module: the original location of the instruction (its inserted checks included) that
  // `addr` belongs to, as "symbol+0xoff (section+0xoffset)" with the offsets of the original .ko (what objdump
  // shows), or "section+0xoffset" outside any symbol; nullopt if addr is in no translated code.
  std::optional<std::string> sfi_origin(uint64_t addr) const;

  bool contains(uint64_t addr) const { return addr >= image && addr < image + image_size; }
  bool in_text(uint64_t addr) const;
  // "name+0xoff/0xsize", or nullopt if no symbol covers addr.
  std::optional<std::string> symbolize(uint64_t addr) const;
  const BugSite* find_bug(uint64_t addr) const;
};

// Everything the loader can refuse a module for lands in the error message, prefixed by the module's name.
Result<LoadedModule> load_module(const ElfFile& elf, const ModuleInfo& info, LoadEnvironment& env,
                                 const LoadOptions& options);

// Names a module imports (its undefined, non-weak symbols), sorted and unique.
std::vector<std::string> imported_symbols(const ElfFile& elf);
// The modversions CRC of every symbol a module exports (its __kcrctab entries, named by __crc_<symbol>).
std::unordered_map<std::string, uint32_t> exported_crcs(const ElfFile& elf);
// Names a module exports with EXPORT_SYMBOL (or, with all_globals, every global it defines).
std::vector<std::string> exported_symbols(const ElfFile& elf, bool all_globals);

}  // namespace side::loader
