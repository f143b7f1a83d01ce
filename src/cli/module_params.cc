#include "cli/module_params.h"

#include <elf.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "common/strings.h"
#include "loader/module_index.h"

namespace side::cli {
namespace {

constexpr uint64_t kKernelParamSize = 40;  // struct kernel_param on x86-64 (6.1); its name is the first member

// The kernel compares parameter names with '-' and '_' the same (parameq).
std::string canonical(std::string_view name) {
  std::string out(name);
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

// The NUL-terminated string at `offset` of section `index`, if it lies inside.
std::string string_in(const loader::ElfFile& elf, uint32_t index, uint64_t offset) {
  if (index >= elf.sections().size()) return {};
  auto data = elf.sections()[index].data;
  if (offset >= data.size()) return {};
  auto begin = data.begin() + static_cast<long>(offset);
  auto end = std::find(begin, data.end(), uint8_t{0});
  if (end == data.end()) return {};
  return std::string(begin, end);
}

// A number as the kernel's kstrto* family reads it (base 0: 0x hex, 0 octal; a '+', a '-' when signed; one
// trailing newline), within [min, max].
bool integer_fits(std::string_view text, bool is_signed, long double min, long double max) {
  std::string s(text);
  if (!s.empty() && s.back() == '\n') s.pop_back();
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  if (!is_signed && s[0] == '-') return false;
  errno = 0;
  char* end = nullptr;
  long double v = 0;
  if (is_signed) {
    v = static_cast<long double>(std::strtoll(s.c_str(), &end, 0));
  } else {
    v = static_cast<long double>(std::strtoull(s.c_str(), &end, 0));
  }
  return errno == 0 && end && *end == '\0' && v >= min && v <= max;
}

// kstrtobool: y, Y, 1, n, N, 0, on, off (only the first characters count).
bool bool_fits(std::string_view s) {
  if (s.empty()) return false;
  switch (s[0]) {
    case 'y':
    case 'Y':
    case '1':
    case 'n':
    case 'N':
    case '0':
      return true;
    case 'o':
    case 'O':
      return s.size() > 1 && std::strchr("nNfF", s[1]) != nullptr;
  }
  return false;
}

bool scalar_fits(std::string_view type, std::string_view v) {
  using L = long double;
  if (type == "byte") return integer_fits(v, false, 0, 255);
  if (type == "short") return integer_fits(v, true, -32768, 32767);
  if (type == "ushort") return integer_fits(v, false, 0, 65535);
  if (type == "int" || type == "bint") return integer_fits(v, true, INT32_MIN, INT32_MAX);
  if (type == "uint" || type == "hexint") return integer_fits(v, false, 0, UINT32_MAX);
  if (type == "long") return integer_fits(v, true, static_cast<L>(INT64_MIN), static_cast<L>(INT64_MAX));
  if (type == "ulong" || type == "ullong") return integer_fits(v, false, 0, static_cast<L>(UINT64_MAX));
  if (type == "bool" || type == "invbool") return bool_fits(v);
  return true;  // charp, string, or a type of the module's own: its set() decides
}

}  // namespace

std::vector<std::string> module_param_names(const loader::ElfFile& elf) {
  std::vector<std::string> names;
  const loader::Section* params = elf.find_section("__param");
  if (!params) return names;
  for (const loader::Section* rela : elf.relocation_sections_for(params->index)) {
    for (const loader::Relocation& r : elf.relocations(*rela)) {
      if (r.offset % kKernelParamSize != 0 || r.type != R_X86_64_64 || r.symbol >= elf.symbols().size()) continue;
      const loader::Symbol& sym = elf.symbols()[r.symbol];
      if (r.addend < 0) continue;
      std::string name = string_in(elf, sym.shndx, sym.value + static_cast<uint64_t>(r.addend));
      if (!name.empty()) names.push_back(std::move(name));
    }
  }
  return names;
}

bool param_value_fits(std::string_view type, const std::string* value) {
  const bool flag = type == "bool" || type == "invbool" || type == "bint";
  if (!value) return flag;  // NAME alone sets a flag; anything else needs a value
  constexpr std::string_view kArray = "array of ";
  if (type.starts_with(kArray)) {
    const std::string_view element = type.substr(kArray.size());
    for (const auto& item : split(*value, ',')) {
      if (!scalar_fits(element, item)) return false;
    }
    return true;
  }
  return scalar_fits(type, *value);
}

Status check_module_params(const std::string& module_arg, const std::string& modules_dir, const std::string& params) {
  if (params.empty()) return {};
  loader::ModuleIndex index(modules_dir);
  auto path = index.resolve(module_arg);
  if (!path) return path.error();
  auto elf = loader::ElfFile::read(*path);
  if (!elf) return elf.error();
  auto info = loader::read_module_info(*elf);
  if (!info) return info.error();
  const std::string module = info->name.empty() ? module_arg : info->name;
  std::vector<std::string> known;
  for (const auto& n : module_param_names(*elf)) known.push_back(canonical(n));
  for (const auto& p : info->parameters) known.push_back(canonical(p.name));
  for (const auto& word : split(params, ' ')) {
    if (word.empty()) continue;
    const size_t eq = word.find('=');
    const std::string name = word.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : word.substr(eq + 1);
    if (std::find(known.begin(), known.end(), canonical(name)) == known.end()) {
      return make_error(module + " has no parameter '" + name + "' (side modinfo " + module + " lists them)");
    }
    for (const auto& p : info->parameters) {
      if (canonical(p.name) != canonical(name) || p.type.empty()) continue;
      if (!param_value_fits(p.type, eq == std::string::npos ? nullptr : &value)) {
        return make_error(module + "'s parameter " + name + " takes " +
                          (p.type.starts_with("array of ") ? "an " : "a value of type ") + p.type +
                          (eq == std::string::npos ? ", and was given no value" : ", not '" + value + "'"));
      }
    }
  }
  return {};
}

}  // namespace side::cli
