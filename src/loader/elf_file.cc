#include "loader/elf_file.h"

#include <elf.h>

#include <cstring>
#include <fstream>
#include <iterator>

namespace side::loader {
namespace {

// Limits that keep a hostile file from making later phases allocate or loop without bound.
constexpr uint32_t kMaxSections = 4096;
constexpr uint64_t kMaxAlign = 1u << 16;
constexpr uint64_t kMaxFileSize = 256ull << 20;

bool range_ok(uint64_t offset, uint64_t size, uint64_t limit) {
  return offset <= limit && size <= limit - offset;
}

template <class T>
T load(const std::vector<uint8_t>& bytes, uint64_t offset) {
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// A NUL-terminated string starting at `offset` inside `table`, or nullopt.
std::optional<std::string_view> string_at(std::span<const uint8_t> table, uint64_t offset) {
  if (offset >= table.size()) return std::nullopt;
  const char* start = reinterpret_cast<const char*>(table.data()) + offset;
  const void* nul = std::memchr(start, 0, table.size() - offset);
  if (!nul) return std::nullopt;
  return std::string_view(start, static_cast<const char*>(nul) - start);
}

}  // namespace

bool Section::allocated() const {
  return flags & SHF_ALLOC;
}
bool Section::executable() const {
  return flags & SHF_EXECINSTR;
}
bool Section::writable() const {
  return flags & SHF_WRITE;
}
bool Symbol::undefined() const {
  return shndx == SHN_UNDEF;
}
bool Symbol::global() const {
  return bind == STB_GLOBAL || bind == STB_WEAK;
}

Result<ElfFile> ElfFile::read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  auto size = static_cast<uint64_t>(in.tellg());
  if (size > kMaxFileSize) return make_error(path + ": larger than " + std::to_string(kMaxFileSize) + " bytes");
  in.seekg(0);
  std::vector<uint8_t> bytes(size);
  if (size && !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size))) {
    return make_error(path + ": read failed");
  }
  return parse(std::move(bytes), path);
}

Result<ElfFile> ElfFile::parse(std::vector<uint8_t> bytes, std::string what) {
  ElfFile f;
  f.what_ = std::move(what);
  f.bytes_ = std::move(bytes);
  if (auto s = f.validate(); !s) return Error{f.what_ + ": " + s.error().message};
  return f;
}

// Checks, in order: the ELF header (64-bit, little-endian, relocatable, x86-64, sane section-header table); every
// section's file range and alignment; the section-name table; exactly one symbol table with a valid string table;
// every symbol's name and section index; every relocation section's entry size, symbol-table link and target.
Status ElfFile::validate() {
  uint64_t shoff = 0;
  uint32_t shnum = 0, shstrndx = 0;
  SIDE_TRY(validate_header(shoff, shnum, shstrndx));
  std::vector<uint32_t> name_offsets;
  SIDE_TRY(read_sections(shoff, shnum, name_offsets));
  SIDE_TRY(name_sections(shstrndx, name_offsets));
  SIDE_TRY(read_symbols());
  return check_relocation_sections();
}

Status ElfFile::validate_header(uint64_t& shoff, uint32_t& shnum, uint32_t& shstrndx) const {
  const uint64_t file_size = bytes_.size();
  if (file_size < sizeof(Elf64_Ehdr)) return make_error("truncated: too small for an ELF header");
  auto eh = load<Elf64_Ehdr>(bytes_, 0);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return make_error("not an ELF file (bad magic)");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64) return make_error("not a 64-bit ELF file");
  if (eh.e_ident[EI_DATA] != ELFDATA2LSB) return make_error("not a little-endian ELF file");
  if (eh.e_ident[EI_VERSION] != EV_CURRENT) return make_error("unknown ELF version");
  if (eh.e_type != ET_REL) return make_error("not a relocatable object (kernel modules are ET_REL)");
  if (eh.e_machine != EM_X86_64) return make_error("not an x86-64 object");
  if (eh.e_shentsize != sizeof(Elf64_Shdr)) return make_error("bad section header entry size");
  if (eh.e_shnum == 0) return make_error("no section headers");
  if (eh.e_shnum > kMaxSections) return make_error("too many sections");
  if (!range_ok(eh.e_shoff, uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr), file_size)) {
    return make_error("truncated: section header table lies outside the file");
  }
  if (eh.e_shstrndx == SHN_UNDEF || eh.e_shstrndx >= eh.e_shnum) return make_error("bad section name table index");
  // Section 0 is reserved: it must be the null section, or later walks would trust its unchecked fields.
  if (load<Elf64_Shdr>(bytes_, eh.e_shoff).sh_type != SHT_NULL) return make_error("section 0 is not the null section");
  shoff = eh.e_shoff;
  shnum = eh.e_shnum;
  shstrndx = eh.e_shstrndx;
  return {};
}

// Every section's header, with its alignment and its file range checked (SHT_NOBITS only has a size).
Status ElfFile::read_sections(uint64_t shoff, uint32_t shnum, std::vector<uint32_t>& name_offsets) {
  const uint64_t file_size = bytes_.size();
  sections_.resize(shnum);
  name_offsets.resize(shnum);
  for (uint32_t i = 0; i < shnum; ++i) {
    const auto sh = load<Elf64_Shdr>(bytes_, shoff + i * sizeof(Elf64_Shdr));
    Section& s = sections_[i];
    s.index = i;
    s.type = sh.sh_type;
    s.flags = sh.sh_flags;
    s.offset = sh.sh_offset;
    s.size = sh.sh_size;
    s.link = sh.sh_link;
    s.info = sh.sh_info;
    s.addralign = sh.sh_addralign;
    s.entsize = sh.sh_entsize;
    name_offsets[i] = sh.sh_name;
    if (i == 0) continue;
    if (sh.sh_addralign > kMaxAlign || (sh.sh_addralign & (sh.sh_addralign - 1)) != 0) {
      return make_error("section " + std::to_string(i) + ": bad alignment " + std::to_string(sh.sh_addralign));
    }
    if (sh.sh_type != SHT_NOBITS) {
      if (!range_ok(sh.sh_offset, sh.sh_size, file_size)) {
        return make_error("section " + std::to_string(i) + ": bad offset/size (lies outside the file)");
      }
      s.data = std::span<const uint8_t>(bytes_.data() + sh.sh_offset, sh.sh_size);
    } else if (sh.sh_size > kMaxFileSize) {
      return make_error("section " + std::to_string(i) + ": too large");
    }
  }
  return {};
}

Status ElfFile::name_sections(uint32_t shstrndx, const std::vector<uint32_t>& name_offsets) {
  const Section& shstr = sections_[shstrndx];
  if (shstr.type != SHT_STRTAB) return make_error("section name table is not a string table");
  for (Section& s : sections_) {
    if (s.index == 0) continue;
    auto name = string_at(shstr.data, name_offsets[s.index]);
    if (!name) return make_error("section " + std::to_string(s.index) + ": name lies outside the name table");
    s.name = *name;
  }
  return {};
}

// The one symbol table, its string table, and every symbol's name and section.
Status ElfFile::read_symbols() {
  const Section* symtab = nullptr;
  for (const Section& s : sections_) {
    if (s.type != SHT_SYMTAB) continue;
    if (symtab) return make_error("more than one symbol table");
    symtab = &s;
  }
  if (!symtab) return make_error("no symbol table (stripped module?)");
  symtab_index_ = symtab->index;
  if (symtab->entsize != sizeof(Elf64_Sym) || symtab->size % sizeof(Elf64_Sym) != 0) {
    return make_error("symbol table: bad entry size");
  }
  if (symtab->link == 0 || symtab->link >= sections_.size() || sections_[symtab->link].type != SHT_STRTAB) {
    return make_error("symbol table: bad string table link");
  }
  const Section& strtab = sections_[symtab->link];
  const uint64_t nsyms = symtab->size / sizeof(Elf64_Sym);
  symbols_.resize(nsyms);
  for (uint64_t i = 0; i < nsyms; ++i) {
    auto raw_sym = load<Elf64_Sym>(bytes_, symtab->offset + i * sizeof(Elf64_Sym));
    Symbol& sym = symbols_[i];
    sym.index = static_cast<uint32_t>(i);
    auto name = string_at(strtab.data, raw_sym.st_name);
    if (!name) return make_error("symbol " + std::to_string(i) + ": name lies outside the string table");
    sym.name = *name;
    sym.bind = ELF64_ST_BIND(raw_sym.st_info);
    sym.type = ELF64_ST_TYPE(raw_sym.st_info);
    sym.shndx = raw_sym.st_shndx;
    sym.value = raw_sym.st_value;
    sym.size = raw_sym.st_size;
    if (sym.shndx == SHN_COMMON) {
      return make_error("symbol '" + std::string(sym.name) + "' is a common symbol (build with -fno-common)");
    }
    if (sym.shndx == SHN_XINDEX) return make_error("extended section indices are not supported");
    if (sym.shndx == SHN_UNDEF || sym.shndx == SHN_ABS) continue;
    if (sym.shndx >= sections_.size()) {
      return make_error("symbol '" + std::string(sym.name) + "': section index out of range");
    }
    if (sym.type != STT_SECTION && sym.value > sections_[sym.shndx].size) {
      return make_error("symbol '" + std::string(sym.name) + "': value lies outside its section");
    }
  }
  return {};
}

Status ElfFile::check_relocation_sections() const {
  for (const Section& s : sections_) {
    if (s.type == SHT_REL) return make_error("section '" + std::string(s.name) + "': SHT_REL is not used on x86-64");
    if (s.type != SHT_RELA) continue;
    if (s.entsize != sizeof(Elf64_Rela) || s.size % sizeof(Elf64_Rela) != 0) {
      return make_error("section '" + std::string(s.name) + "': bad relocation entry size");
    }
    if (s.link != symtab_index_) {
      return make_error("section '" + std::string(s.name) + "': not linked to the symbol table");
    }
    if (s.info == 0 || s.info >= sections_.size()) {
      return make_error("section '" + std::string(s.name) + "': bad target section");
    }
    for (const Relocation& r : relocations(s)) {
      if (r.symbol >= symbols_.size()) {
        return make_error("section '" + std::string(s.name) + "': relocation refers to a missing symbol");
      }
    }
  }
  return {};
}

const Section* ElfFile::find_section(std::string_view name) const {
  for (const Section& s : sections_) {
    if (s.index != 0 && s.name == name) return &s;
  }
  return nullptr;
}

std::vector<const Section*> ElfFile::relocation_sections_for(uint32_t target_index) const {
  std::vector<const Section*> out;
  for (const Section& s : sections_) {
    if (s.type == SHT_RELA && s.info == target_index) out.push_back(&s);
  }
  return out;
}

std::vector<Relocation> ElfFile::relocations(const Section& rela) const {
  std::vector<Relocation> out;
  const uint64_t n = rela.size / sizeof(Elf64_Rela);
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    auto r = load<Elf64_Rela>(bytes_, rela.offset + i * sizeof(Elf64_Rela));
    out.push_back(Relocation{r.r_offset, static_cast<uint32_t>(ELF64_R_TYPE(r.r_info)),
                             static_cast<uint32_t>(ELF64_R_SYM(r.r_info)), r.r_addend});
  }
  return out;
}

}  // namespace side::loader
