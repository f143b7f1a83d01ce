// A validated view of an ELF64 x86-64 relocatable object (a kernel module, .ko).
//
// parse() checks everything later phases rely on, with overflow-safe arithmetic, and names the first violation it
// finds. After it succeeds every section's bytes lie inside the file, every name is a NUL-terminated string inside
// its table, every symbol refers to an existing section, and every relocation section refers to the symbol table
// and to an existing target section with entries of the right size. Relocation offsets are checked against the
// target section when relocations are applied, since their width depends on the type.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace side::loader {

struct Section {
  uint32_t index = 0;
  std::string_view name;
  uint32_t type = 0;
  uint64_t flags = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint32_t link = 0;
  uint32_t info = 0;
  uint64_t addralign = 0;
  uint64_t entsize = 0;
  std::span<const uint8_t> data;  // empty for SHT_NOBITS

  bool allocated() const;
  bool executable() const;
  bool writable() const;
};

struct Symbol {
  uint32_t index = 0;
  std::string_view name;
  uint8_t bind = 0;
  uint8_t type = 0;
  uint16_t shndx = 0;
  uint64_t value = 0;
  uint64_t size = 0;

  bool undefined() const;
  bool global() const;  // STB_GLOBAL or STB_WEAK
};

struct Relocation {
  uint64_t offset = 0;
  uint32_t type = 0;
  uint32_t symbol = 0;
  int64_t addend = 0;
};

class ElfFile {
 public:
  // Takes ownership of the bytes. `what` names the file in error messages.
  static Result<ElfFile> parse(std::vector<uint8_t> bytes, std::string what);
  static Result<ElfFile> read(const std::string& path);

  ElfFile(ElfFile&&) = default;
  ElfFile& operator=(ElfFile&&) = default;

  const std::string& what() const { return what_; }
  const std::vector<Section>& sections() const { return sections_; }
  const std::vector<Symbol>& symbols() const { return symbols_; }
  const Section* find_section(std::string_view name) const;
  // Relocation sections (SHT_RELA) whose target is `target_index`.
  std::vector<const Section*> relocation_sections_for(uint32_t target_index) const;
  std::vector<Relocation> relocations(const Section& rela_section) const;

 private:
  ElfFile() = default;
  Status validate();
  // The phases of validate(), in order.
  Status validate_header(uint64_t& shoff, uint32_t& shnum, uint32_t& shstrndx) const;
  Status read_sections(uint64_t shoff, uint32_t shnum, std::vector<uint32_t>& name_offsets);
  Status name_sections(uint32_t shstrndx, const std::vector<uint32_t>& name_offsets);
  Status read_symbols();
  Status check_relocation_sections() const;

  std::string what_;
  std::vector<uint8_t> bytes_;
  std::vector<Section> sections_;
  std::vector<Symbol> symbols_;
  uint32_t symtab_index_ = 0;
};

}  // namespace side::loader
