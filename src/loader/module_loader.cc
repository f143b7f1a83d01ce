#include "loader/module_loader.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "common/strings.h"
#include "loader/sfi_text.h"

namespace side::loader {
namespace {

constexpr uint64_t kPage = 4096;
// struct bug_entry with CONFIG_GENERIC_BUG_RELATIVE_POINTERS and CONFIG_DEBUG_BUGVERBOSE:
// int bug_addr_disp; int file_disp; unsigned short line; unsigned short flags.
constexpr uint64_t kBugEntrySize = 12;
// sizeof(struct kernel_param) on x86-64.
constexpr uint64_t kKernelParamSize = 40;

uint64_t align_up(uint64_t v, uint64_t a) {
  return a <= 1 ? v : (v + a - 1) & ~(a - 1);
}

bool is_percpu(const Section& s) {
  return s.name.starts_with(".data..percpu");
}

// Sections the kernel strips of SHF_ALLOC before laying a module out: metadata read from the file, never mapped.
bool is_metadata(const Section& s) {
  return s.name == ".modinfo" || s.name == "__versions";
}

struct Placement {
  bool placed = false;
  bool percpu = false;
  uint64_t address = 0;                 // image address, or per-cpu offset
  std::vector<uint8_t> percpu_init;     // relocated before it is copied to every CPU
  std::optional<sfi::Translation> sfi;  // an executable section translated for sfi: its bytes replace the file's
};

class Loader {
 public:
  Loader(const ElfFile& elf, const ModuleInfo& info, LoadEnvironment& env, const LoadOptions& options)
      : elf_(elf), info_(info), env_(env), options_(options), placements_(elf.sections().size()) {}

  Result<LoadedModule> run() {
    mod_.name = info_.name;
    mod_.path = elf_.what();
    mod_.crcs = exported_crcs(elf_);
    mod_.info = info_;
    SIDE_TRY(translate());
    SIDE_TRY(layout());
    SIDE_TRY(resolve());
    SIDE_TRY(relocate());
    SIDE_TRY(protect());
    SIDE_TRY(collect());
    return std::move(mod_);
  }

 private:
  Error fail(const std::string& what) const { return Error{mod_.name + ": " + what}; }

  Status layout() {
    const auto& sections = elf_.sections();
    // Three groups, each starting on a page so each can get its own protection.
    uint64_t offset = 0;
    auto place_group = [&](auto predicate) {
      offset = align_up(offset, kPage);
      for (const Section& s : sections) {
        if (s.index == 0 || !s.allocated() || is_metadata(s) || is_percpu(s) || !predicate(s)) continue;
        offset = align_up(offset, s.addralign);
        placements_[s.index].placed = true;
        placements_[s.index].address = offset;  // relative until the image exists
        offset += placed_size(s);
      }
    };
    place_group([](const Section& s) { return s.executable(); });
    const uint64_t ro_start = align_up(offset, kPage);
    place_group([](const Section& s) { return !s.executable() && !s.writable(); });
    const uint64_t rw_start = align_up(offset, kPage);
    place_group([](const Section& s) { return !s.executable() && s.writable(); });
    uint64_t size = align_up(offset, kPage);
    if (size > (512ull << 20)) return fail("image too large");

    auto image = env_.allocate_image(size);
    if (!image) return fail(image.error().message);
    mod_.image = *image;
    mod_.image_size = size;
    ro_start_ = mod_.image + ro_start;
    rw_start_ = mod_.image + rw_start;

    for (const Section& s : sections) {
      Placement& p = placements_[s.index];
      if (p.placed) {
        p.address += mod_.image;
        if (p.sfi) {
          std::memcpy(reinterpret_cast<void*>(p.address), p.sfi->code.data(), p.sfi->code.size());
          mod_.sfi_text.push_back(SfiText{p.address, p.address + p.sfi->code.size(), std::string(s.name), p.sfi->map});
        } else if (s.type != SHT_NOBITS && s.size) {
          std::memcpy(reinterpret_cast<void*>(p.address), s.data.data(), s.size);
        }
        if (s.executable() && placed_size(s)) mod_.text.emplace_back(p.address, p.address + placed_size(s));
      } else if (s.index != 0 && s.allocated() && is_percpu(s)) {
        auto off = env_.allocate_percpu(s.size, std::max<uint64_t>(s.addralign, 1));
        if (!off) return fail(off.error().message);
        p.placed = true;
        p.percpu = true;
        p.address = *off;
        p.percpu_init.assign(s.size, 0);
        if (s.type != SHT_NOBITS && s.size) std::memcpy(p.percpu_init.data(), s.data.data(), s.size);
        if (!mod_.percpu_size) mod_.percpu_offset = *off;
        mod_.percpu_size += s.size;
      }
    }
    return {};
  }

  // sfi: every executable section rewritten before anything is laid out (its size changes).
  Status translate() {
    if (!options_.sfi) return {};
    for (const Section& s : elf_.sections()) {
      if (s.index == 0 || !s.allocated() || !s.executable() || s.type != SHT_PROGBITS || s.size == 0) continue;
      auto t = translate_section(elf_, s, *options_.sfi, mod_.name);
      if (!t) return Error{t.error().message};
      mod_.sfi_counts += t->counts;
      placements_[s.index].sfi = std::move(*t);
    }
    return {};
  }

  uint64_t placed_size(const Section& s) const {
    const Placement& p = placements_[s.index];
    return p.sfi ? p.sfi->code.size() : s.size;
  }

  // The address an original offset of a translated section now has; an error naming the place if it is no
  // instruction boundary.
  Result<uint64_t> translated(uint16_t shndx, uint64_t offset) const {
    const Placement& p = placements_[shndx];
    auto to = p.sfi->map.to_translated(offset);
    if (!to) {
      return Error{"section " + std::string(elf_.sections()[shndx].name) + ": offset " + hex(offset) +
                   " is referenced but is not an instruction boundary of the translated code"};
    }
    return p.address + *to;
  }

  bool in_translated(const Symbol& sym) const {
    return sym.shndx != 0 && sym.shndx < placements_.size() && placements_[sym.shndx].sfi.has_value() &&
           sym.shndx != SHN_ABS && !sym.undefined();
  }

  // A symbol's size in translated code: up to where the instruction after its end went.
  uint64_t translated_size(const Symbol& sym) const {
    if (!in_translated(sym) || sym.size == 0) return sym.size;
    const sfi::CodeMap& map = placements_[sym.shndx].sfi->map;
    auto start = map.to_translated(sym.value);
    auto end = map.to_translated(sym.value + sym.size);
    return start && end && *end >= *start ? *end - *start : sym.size;
  }

  Status resolve() {
    const auto& symbols = elf_.symbols();
    values_.assign(symbols.size(), 0);
    std::vector<std::string> missing;
    std::vector<uint32_t> missing_index;
    for (const Symbol& sym : symbols) {
      if (sym.index == 0) continue;
      if (sym.shndx == SHN_ABS) {
        values_[sym.index] = sym.value;
      } else if (sym.undefined()) {
        if (sym.name.empty()) continue;
        std::string name(sym.name);
        if (auto addr = env_.resolve(name)) {
          values_[sym.index] = *addr;
        } else if (sym.bind == STB_WEAK) {
          values_[sym.index] = 0;  // an unresolved weak reference is NULL, as in the kernel
        } else {
          missing.push_back(name);
          missing_index.push_back(sym.index);
        }
      } else if (in_translated(sym) && sym.value <= elf_.sections()[sym.shndx].size) {
        auto addr = translated(sym.shndx, sym.value);
        if (!addr) return fail("symbol " + std::string(sym.name) + ": " + addr.error().message);
        values_[sym.index] = *addr;
      } else {
        const Placement& p = placements_[sym.shndx];
        values_[sym.index] = p.placed ? p.address + sym.value : 0;
      }
    }
    if (!missing.empty()) {
      std::vector<std::string> sorted = missing;
      std::sort(sorted.begin(), sorted.end());
      sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
      if (!options_.allow_missing) {
        std::string list;
        for (const auto& n : sorted) list += "\n  " + n;
        return fail("unknown symbol" + std::string(sorted.size() > 1 ? "s" : "") + " (" +
                    std::to_string(sorted.size()) + "), not provided by side's kernel-API layer:" + list);
      }
      for (size_t i = 0; i < missing.size(); ++i) {
        auto addr = env_.missing_symbol_address(missing[i]);
        if (!addr) return fail(addr.error().message);
        values_[missing_index[i]] = *addr;
      }
      mod_.missing = sorted;
    }
    return {};
  }

  // Where a relocation lands: the image, or a per-cpu section's init copy.
  uint8_t* target(const Section& s, Placement& p, uint64_t offset, uint64_t width, uint64_t* address) {
    const uint64_t size = p.sfi ? p.sfi->code.size() : s.size;  // translated code has its own size
    if (offset > size || width > size - offset) return nullptr;
    if (p.percpu) {
      *address = p.address + offset;  // a per-cpu offset: PC-relative references to it make no sense
      return p.percpu_init.data() + offset;
    }
    *address = p.address + offset;
    return reinterpret_cast<uint8_t*>(*address);
  }

  Status relocate() {
    for (const Section& target_section : elf_.sections()) {
      Placement& p = placements_[target_section.index];
      if (!p.placed) continue;  // debug info and other unallocated sections are never relocated
      if (p.sfi) {
        for (const sfi::TranslatedRelocation& t : p.sfi->relocations) SIDE_TRY(apply_translated(target_section, p, t));
        continue;
      }
      for (const Section* rela : elf_.relocation_sections_for(target_section.index)) {
        for (const Relocation& r : elf_.relocations(*rela)) {
          SIDE_TRY(apply(target_section, p, r));
        }
      }
    }
    for (const Section& s : elf_.sections()) {
      const Placement& p = placements_[s.index];
      if (p.percpu) env_.init_percpu(p.address, p.percpu_init);
    }
    return {};
  }

  // A relocation of translated code: the translator's own (a thunk by name, or a return site in the code itself),
  // the others as in the file but at their new offset.
  Status apply_translated(const Section& s, Placement& p, const sfi::TranslatedRelocation& t) {
    Relocation r{t.offset, t.type, t.symbol, t.addend};
    if (t.self) return place(s, p, r, p.address + static_cast<uint64_t>(t.addend), std::string(s.name));
    if (t.name.empty()) return apply(s, p, r, t.bias);
    auto addr = env_.resolve(t.name);
    if (!addr) return fail("sfi translation needs '" + t.name + "', which the kernel-API layer does not provide");
    return place(s, p, r, *addr + static_cast<uint64_t>(t.addend), t.name);
  }

  // symbol + addend for a relocation; when the symbol lies in a translated section, the address it designates
  // (symbol + addend + bias: for PC-relative fields in code, the end of the instruction) is mapped to its new place.
  Result<uint64_t> value_of(const Relocation& r, uint32_t bias) const {
    const Symbol& sym = elf_.symbols()[r.symbol];
    if (!in_translated(sym)) return values_[r.symbol] + static_cast<uint64_t>(r.addend);
    const uint64_t original = sym.value + static_cast<uint64_t>(r.addend) + bias;
    auto addr = translated(sym.shndx, original);
    if (!addr) return addr.error();
    return *addr - bias;
  }

  Status apply(const Section& s, Placement& p, const Relocation& r, uint32_t bias = 0) {
    if (r.type == R_X86_64_NONE) return {};
    const Symbol& sym = elf_.symbols()[r.symbol];
    const std::string name = sym.name.empty() ? std::string(s.name) : std::string(sym.name);
    auto val = value_of(r, bias);
    if (!val) return fail("section " + std::string(s.name) + "+" + hex(r.offset) + ": " + val.error().message);
    if (r.type == R_X86_64_PLT32 && sym.undefined() && values_[r.symbol]) {
      auto to = env_.call_binding(name, values_[r.symbol]);
      if (!to) return fail("call to " + name + ": " + to.error().message);
      val = *to + static_cast<uint64_t>(r.addend);
    }
    return place(s, p, r, *val, name);
  }

  // Writes `val` (symbol + addend, resolved) into the relocation's field.
  Status place(const Section& s, Placement& p, const Relocation& r, uint64_t val, const std::string& name) {
    uint64_t width;
    switch (r.type) {
      case R_X86_64_NONE:
        return {};
      case R_X86_64_64:
      case R_X86_64_PC64:
        width = 8;
        break;
      case R_X86_64_32:
      case R_X86_64_32S:
      case R_X86_64_PC32:
      case R_X86_64_PLT32:
        width = 4;
        break;
      default:
        return fail("section " + std::string(s.name) + ": unsupported relocation type " + std::to_string(r.type));
    }
    uint64_t loc_addr = 0;
    uint8_t* loc = target(s, p, r.offset, width, &loc_addr);
    if (!loc) return fail("section " + std::string(s.name) + ": relocation offset " + hex(r.offset) + " out of range");
    if (p.percpu && (r.type == R_X86_64_PC32 || r.type == R_X86_64_PLT32 || r.type == R_X86_64_PC64)) {
      return fail("PC-relative relocation inside per-cpu data");
    }
    // As the kernel does: a target that is not zero means the file was relocated twice or is corrupt.
    for (uint64_t i = 0; i < width; ++i) {
      if (loc[i] != 0)
        return fail("invalid relocation target at " + std::string(s.name) + "+" + hex(r.offset) +
                    ": existing value is nonzero");
    }
    switch (r.type) {
      case R_X86_64_64:
        std::memcpy(loc, &val, 8);
        return {};
      case R_X86_64_PC64:
        val -= loc_addr;
        std::memcpy(loc, &val, 8);
        return {};
      case R_X86_64_32: {
        if (val != static_cast<uint32_t>(val)) return overflow(name, r, val);
        uint32_t v = static_cast<uint32_t>(val);
        std::memcpy(loc, &v, 4);
        return {};
      }
      case R_X86_64_32S: {
        if (static_cast<int64_t>(val) != static_cast<int32_t>(val)) return overflow(name, r, val);
        int32_t v = static_cast<int32_t>(val);
        std::memcpy(loc, &v, 4);
        return {};
      }
      default: {  // PC32, PLT32
        val -= loc_addr;
        if (static_cast<int64_t>(val) != static_cast<int32_t>(val)) return overflow(name, r, val);
        int32_t v = static_cast<int32_t>(val);
        std::memcpy(loc, &v, 4);
        return {};
      }
    }
  }

  Error overflow(const std::string& name, const Relocation& r, uint64_t val) const {
    return fail("relocation type " + std::to_string(r.type) + " against '" + name + "' overflows (value " + hex(val) +
                "): the symbol is out of reach of -mcmodel=kernel code");
  }

  Status protect() {
    if (ro_start_ > mod_.image) SIDE_TRY(env_.protect_image(mod_.image, ro_start_ - mod_.image, false, true));
    if (rw_start_ > ro_start_) SIDE_TRY(env_.protect_image(ro_start_, rw_start_ - ro_start_, false, false));
    return {};
  }

  Status collect() {
    const auto& symbols = elf_.symbols();
    std::unordered_map<std::string, uint64_t> globals;
    for (const Symbol& sym : symbols) {
      if (sym.index == 0 || sym.undefined() || sym.shndx == SHN_ABS || sym.name.empty()) continue;
      const Placement& p = placements_[sym.shndx];
      if (!p.placed) continue;
      uint64_t addr = values_[sym.index];
      if (sym.global()) globals.emplace(std::string(sym.name), addr);
      // init_module/cleanup_module alias the module's own init and exit functions, whose names say more.
      if (!p.percpu && (sym.type == STT_FUNC || sym.type == STT_OBJECT) && sym.name != "init_module" &&
          sym.name != "cleanup_module") {
        mod_.symbols.push_back(ModuleSymbol{addr, translated_size(sym), std::string(sym.name)});
      }
    }
    std::sort(mod_.symbols.begin(), mod_.symbols.end(),
              [](const ModuleSymbol& a, const ModuleSymbol& b) { return a.address < b.address; });

    for (const std::string& name : exported_symbols(elf_, options_.export_all_globals)) {
      if (auto it = globals.find(name); it != globals.end()) mod_.exports.emplace(name, it->second);
    }
    if (options_.export_all_globals) {
      for (const auto& [name, addr] : globals) {
        if (name.starts_with("side_kapi_")) mod_.entry_points.emplace(name, addr);
      }
    }
    if (auto it = globals.find("init_module"); it != globals.end()) mod_.init = it->second;
    if (auto it = globals.find("cleanup_module"); it != globals.end()) mod_.exit = it->second;

    for (const Section& s : elf_.sections()) {
      const Placement& p = placements_[s.index];
      if (!p.placed || p.percpu) continue;
      if (s.name == ".gnu.linkonce.this_module") mod_.this_module = p.address;
      if (s.name == "__param") {
        if (s.size % kKernelParamSize != 0) return fail("__param has a bad size");
        mod_.params = p.address;
        mod_.nr_params = static_cast<uint32_t>(s.size / kKernelParamSize);
      }
      if (s.name == "__bug_table") SIDE_TRY(collect_bugs(s, p.address));
    }
    std::sort(mod_.bugs.begin(), mod_.bugs.end(),
              [](const BugSite& a, const BugSite& b) { return a.address < b.address; });
    return {};
  }

  Status collect_bugs(const Section& s, uint64_t base) {
    if (s.size % kBugEntrySize != 0) return fail("__bug_table has a bad size");
    for (uint64_t off = 0; off < s.size; off += kBugEntrySize) {
      int32_t addr_disp, file_disp;
      uint16_t line, flags;
      const auto* e = reinterpret_cast<const uint8_t*>(base + off);
      std::memcpy(&addr_disp, e, 4);
      std::memcpy(&file_disp, e + 4, 4);
      std::memcpy(&line, e + 8, 2);
      std::memcpy(&flags, e + 10, 2);
      BugSite site;
      site.address = base + off + static_cast<int64_t>(addr_disp);
      site.line = line;
      site.flags = flags;
      uint64_t file = base + off + 4 + static_cast<int64_t>(file_disp);
      // The file name must be a string inside this module's image.
      if (mod_.contains(file)) {
        const char* str = reinterpret_cast<const char*>(file);
        site.file.assign(str, strnlen(str, mod_.image + mod_.image_size - file));
      }
      mod_.bugs.push_back(std::move(site));
    }
    return {};
  }

  const ElfFile& elf_;
  const ModuleInfo& info_;
  LoadEnvironment& env_;
  const LoadOptions& options_;
  std::vector<Placement> placements_;
  std::vector<uint64_t> values_;
  LoadedModule mod_;
  uint64_t ro_start_ = 0, rw_start_ = 0;  // text is [image, ro_start_)
};

bool is_host_internal(std::string_view name) {
  return name.starts_with("side_") || name == "init_module" || name == "cleanup_module" || name == "__this_module" ||
         name.starts_with("__ksymtab") || name.starts_with("__kstrtab") || name.starts_with("__crc_");
}

}  // namespace

bool LoadedModule::in_text(uint64_t addr) const {
  for (auto [start, end] : text) {
    if (addr >= start && addr < end) return true;
  }
  return false;
}

std::optional<std::string> LoadedModule::symbolize(uint64_t addr) const {
  auto it = std::upper_bound(symbols.begin(), symbols.end(), addr,
                             [](uint64_t a, const ModuleSymbol& s) { return a < s.address; });
  if (it == symbols.begin()) return std::nullopt;
  --it;
  // Symbols without a size (assembly) cover everything up to the next symbol.
  uint64_t size = it->size;
  if (size == 0) size = (it + 1 != symbols.end() ? (it + 1)->address : image + image_size) - it->address;
  if (addr - it->address >= size) return std::nullopt;
  return it->name + "+" + hex(addr - it->address) + "/" + hex(size);
}

std::optional<std::string> LoadedModule::sfi_origin(uint64_t addr) const {
  for (const SfiText& t : sfi_text) {
    if (addr < t.start || addr >= t.end) continue;
    auto original = t.map.to_original(addr - t.start);
    if (!original) return t.section + " literal pool";
    std::string where = t.section + "+" + hex(*original);
    // The symbol, with the offset objdump shows for the original .ko (symbol starts are instruction boundaries).
    auto it = std::upper_bound(symbols.begin(), symbols.end(), addr,
                               [](uint64_t a, const ModuleSymbol& s) { return a < s.address; });
    if (it == symbols.begin()) return where;
    --it;
    auto start = it->address >= t.start ? t.map.to_original(it->address - t.start) : std::nullopt;
    if (!start || it->address + it->size <= addr) return where;
    return it->name + "+" + hex(*original - *start) + " (" + where + ")";
  }
  return std::nullopt;
}

const BugSite* LoadedModule::find_bug(uint64_t addr) const {
  auto it =
      std::lower_bound(bugs.begin(), bugs.end(), addr, [](const BugSite& b, uint64_t a) { return b.address < a; });
  return it != bugs.end() && it->address == addr ? &*it : nullptr;
}

Result<LoadedModule> load_module(const ElfFile& elf, const ModuleInfo& info, LoadEnvironment& env,
                                 const LoadOptions& options) {
  return Loader(elf, info, env, options).run();
}

std::vector<std::string> imported_symbols(const ElfFile& elf) {
  std::set<std::string> names;
  for (const Symbol& s : elf.symbols()) {
    if (s.index != 0 && s.undefined() && !s.name.empty() && s.bind != STB_WEAK) names.emplace(s.name);
  }
  return {names.begin(), names.end()};
}

std::unordered_map<std::string, uint32_t> exported_crcs(const ElfFile& elf) {
  std::unordered_map<std::string, uint32_t> out;
  for (const Symbol& s : elf.symbols()) {
    if (!s.name.starts_with("__crc_") || s.undefined() || s.shndx >= elf.sections().size()) continue;
    const Section& sec = elf.sections()[s.shndx];
    if (s.value > sec.data.size() || sec.data.size() - s.value < 4) continue;
    uint32_t crc;
    std::memcpy(&crc, sec.data.data() + s.value, 4);
    out.emplace(std::string(s.name.substr(6)), crc);
  }
  return out;
}

std::vector<std::string> exported_symbols(const ElfFile& elf, bool all_globals) {
  std::set<std::string> names;
  for (const Symbol& s : elf.symbols()) {
    if (s.index == 0 || s.name.empty()) continue;
    if (all_globals) {
      if (!s.undefined() && s.global() && !is_host_internal(s.name)) names.emplace(s.name);
    } else if (s.name.starts_with("__ksymtab_")) {
      names.emplace(s.name.substr(std::string_view("__ksymtab_").size()));
    }
  }
  return {names.begin(), names.end()};
}

}  // namespace side::loader
