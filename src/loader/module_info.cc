#include "loader/module_info.h"

#include <cstring>

#include "common/strings.h"

namespace side::loader {
namespace {

// struct modversion_info in include/linux/module.h: an unsigned long CRC then a 56-byte name.
constexpr size_t kModversionSize = 64;
constexpr size_t kModuleNameLen = 56;  // MODULE_NAME_LEN on 64-bit
// struct module's name field follows `enum module_state state` and `struct list_head list`.
constexpr size_t kThisModuleNameOffset = 24;

}  // namespace

std::string ModuleInfo::get(const std::string& key) const {
  auto it = fields.find(key);
  return it == fields.end() ? std::string() : it->second;
}

std::vector<std::string> ModuleInfo::all(const std::string& key) const {
  std::vector<std::string> out;
  auto [b, e] = fields.equal_range(key);
  for (auto it = b; it != e; ++it) out.push_back(it->second);
  return out;
}

std::vector<std::string> ModuleInfo::depends() const {
  std::vector<std::string> out;
  for (const std::string& v : all("depends")) {
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      if (comma > start) out.push_back(normalize_module_name(v.substr(start, comma - start)));
      start = comma + 1;
    }
  }
  return out;
}

std::vector<std::string> ModuleInfo::transports() const {
  for (const std::string& a : all("alias")) {
    if (a.starts_with("virtio:")) return {"virtio_pci"};
  }
  return {};
}

std::vector<PciId> ModuleInfo::pci_ids() const {
  std::vector<PciId> out;
  for (const std::string& a : all("alias")) {
    if (a.rfind("pci:", 0) != 0) continue;
    if (auto id = parse_pci_alias(a)) out.push_back(*id);
  }
  return out;
}

Result<PciId> parse_pci_alias(const std::string& alias) {
  // Fields in order, each a prefix followed by 8 (or 2) hex digits, or '*' meaning "any".
  struct Field {
    const char* prefix;
    int digits;
  };
  static constexpr Field kFields[] = {{"v", 8}, {"d", 8}, {"sv", 8}, {"sd", 8}, {"bc", 2}, {"sc", 2}, {"i", 2}};
  uint32_t values[7] = {};
  bool any[7] = {};
  size_t pos = 4;  // after "pci:"
  for (int f = 0; f < 7; ++f) {
    size_t plen = std::strlen(kFields[f].prefix);
    if (alias.compare(pos, plen, kFields[f].prefix) != 0) {
      // Trailing class fields may be omitted entirely.
      if (f >= 4) {
        any[f] = true;
        continue;
      }
      return make_error("bad PCI alias '" + alias + "'");
    }
    pos += plen;
    if (pos < alias.size() && alias[pos] == '*') {
      any[f] = true;
      ++pos;
      continue;
    }
    uint32_t v = 0;
    for (int i = 0; i < kFields[f].digits; ++i, ++pos) {
      if (pos >= alias.size() || !isxdigit(static_cast<unsigned char>(alias[pos]))) {
        return make_error("bad PCI alias '" + alias + "'");
      }
      v = v * 16 + static_cast<uint32_t>(isdigit(static_cast<unsigned char>(alias[pos]))
                                             ? alias[pos] - '0'
                                             : (alias[pos] | 0x20) - 'a' + 10);
    }
    values[f] = v;
  }
  constexpr uint32_t kAny = 0xffffffff;
  PciId id;
  id.vendor = any[0] ? kAny : values[0];
  id.device = any[1] ? kAny : values[1];
  id.subvendor = any[2] ? kAny : values[2];
  id.subdevice = any[3] ? kAny : values[3];
  for (int f = 4; f < 7; ++f) {
    int shift = 16 - (f - 4) * 8;
    if (!any[f]) {
      id.class_code |= values[f] << shift;
      id.class_mask |= 0xffu << shift;
    }
  }
  return id;
}

Result<ModuleInfo> read_module_info(const ElfFile& elf) {
  ModuleInfo info;
  if (const Section* s = elf.find_section(".modinfo"); s && s->type != 8 /* SHT_NOBITS */) {
    const char* p = reinterpret_cast<const char*>(s->data.data());
    size_t n = s->data.size();
    size_t i = 0;
    while (i < n) {
      const void* nul = std::memchr(p + i, 0, n - i);
      size_t len = nul ? static_cast<const char*>(nul) - (p + i) : n - i;
      std::string_view entry(p + i, len);
      if (size_t eq = entry.find('='); eq != std::string_view::npos) {
        info.fields.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
        info.entries.emplace_back(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
      }
      i += len + 1;
    }
  }
  if (const Section* s = elf.find_section("__versions"); s && !s->data.empty()) {
    if (s->data.size() % kModversionSize != 0) return make_error(elf.what() + ": __versions has a bad size");
    for (size_t off = 0; off < s->data.size(); off += kModversionSize) {
      uint64_t crc;
      std::memcpy(&crc, s->data.data() + off, sizeof crc);
      const char* name = reinterpret_cast<const char*>(s->data.data() + off + 8);
      size_t len = strnlen(name, kModuleNameLen);
      if (len == kModuleNameLen) return make_error(elf.what() + ": __versions entry name is not terminated");
      info.versions.push_back({std::string(name, len), static_cast<uint32_t>(crc)});
    }
  }
  if (const Section* s = elf.find_section(".gnu.linkonce.this_module");
      s && s->data.size() >= kThisModuleNameOffset + kModuleNameLen) {
    const char* name = reinterpret_cast<const char*>(s->data.data() + kThisModuleNameOffset);
    info.name = std::string(name, strnlen(name, kModuleNameLen));
  }
  if (info.name.empty()) info.name = info.get("name");
  if (info.name.empty()) return make_error(elf.what() + ": module has no name (.gnu.linkonce.this_module missing)");

  // parm=NAME:description and parmtype=NAME:type, in declaration order.
  auto split = [](const std::string& v) {
    size_t colon = v.find(':');
    return colon == std::string::npos ? std::pair{v, std::string()}
                                      : std::pair{v.substr(0, colon), v.substr(colon + 1)};
  };
  for (const std::string& v : info.all("parmtype")) {
    auto [name, type] = split(v);
    info.parameters.push_back({name, type, ""});
  }
  for (const std::string& v : info.all("parm")) {
    auto [name, desc] = split(v);
    bool found = false;
    for (auto& p : info.parameters) {
      if (p.name == name) p.description = desc, found = true;
    }
    if (!found) info.parameters.push_back({name, "", desc});
  }
  return info;
}

}  // namespace side::loader
