// ELF validation: real modules parse; every kind of corruption is a clear error, never a crash.
#include "loader/elf_file.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

using side::loader::ElfFile;

namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const std::string kModule = std::string(SIDE_TEST_MODULES_DIR) + "/side_test_alloc.ko";

std::string parse_error(std::vector<uint8_t> bytes) {
  auto r = ElfFile::parse(std::move(bytes), "m.ko");
  return r ? "" : r.error().message;
}

Elf64_Ehdr header(const std::vector<uint8_t>& b) {
  Elf64_Ehdr eh;
  std::memcpy(&eh, b.data(), sizeof eh);
  return eh;
}

void patch_section(std::vector<uint8_t>& b, unsigned index, auto edit) {
  Elf64_Ehdr eh = header(b);
  Elf64_Shdr sh;
  std::memcpy(&sh, b.data() + eh.e_shoff + index * sizeof sh, sizeof sh);
  edit(sh);
  std::memcpy(b.data() + eh.e_shoff + index * sizeof sh, &sh, sizeof sh);
}

unsigned find_section(const std::vector<uint8_t>& b, uint32_t type) {
  Elf64_Ehdr eh = header(b);
  for (unsigned i = 0; i < eh.e_shnum; ++i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, b.data() + eh.e_shoff + i * sizeof sh, sizeof sh);
    if (sh.sh_type == type) return i;
  }
  return 0;
}

}  // namespace

TEST(ElfFile, ParsesARealModule) {
  auto elf = ElfFile::read(kModule);
  ASSERT_TRUE(elf) << elf.error().message;
  EXPECT_NE(elf->find_section(".modinfo"), nullptr);
  EXPECT_NE(elf->find_section(".gnu.linkonce.this_module"), nullptr);
  EXPECT_GT(elf->symbols().size(), 10u);
  const auto* text = elf->find_section(".init.text");
  ASSERT_NE(text, nullptr);
  EXPECT_FALSE(elf->relocation_sections_for(text->index).empty());
}

TEST(ElfFile, RejectsAMissingFile) {
  auto elf = ElfFile::read("/nonexistent/x.ko");
  ASSERT_FALSE(elf);
  EXPECT_NE(elf.error().message.find("cannot open"), std::string::npos);
}

TEST(ElfFile, RejectsTruncationAtEveryLength) {
  auto bytes = read_bytes(kModule);
  ASSERT_FALSE(bytes.empty());
  // Every prefix shorter than the section header table's end must fail cleanly.
  Elf64_Ehdr eh = header(bytes);
  size_t table_end = eh.e_shoff + eh.e_shnum * sizeof(Elf64_Shdr);
  for (size_t len : {size_t{0}, size_t{4}, size_t{63}, size_t{64}, bytes.size() / 2, table_end - 1}) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + std::min(len, bytes.size()));
    EXPECT_NE(parse_error(cut), "") << "length " << len;
  }
  std::vector<uint8_t> tiny(bytes.begin(), bytes.begin() + 10);
  EXPECT_NE(parse_error(tiny).find("truncated"), std::string::npos);
}

TEST(ElfFile, RejectsBadIdentity) {
  auto bytes = read_bytes(kModule);
  auto b = bytes;
  b[0] = 'X';
  EXPECT_NE(parse_error(b).find("bad magic"), std::string::npos);
  b = bytes;
  b[EI_CLASS] = ELFCLASS32;
  EXPECT_NE(parse_error(b).find("64-bit"), std::string::npos);
  b = bytes;
  b[EI_DATA] = ELFDATA2MSB;
  EXPECT_NE(parse_error(b).find("little-endian"), std::string::npos);
  b = bytes;
  uint16_t exec = ET_EXEC;
  std::memcpy(b.data() + offsetof(Elf64_Ehdr, e_type), &exec, 2);
  EXPECT_NE(parse_error(b).find("relocatable"), std::string::npos);
  b = bytes;
  uint16_t arm = EM_AARCH64;
  std::memcpy(b.data() + offsetof(Elf64_Ehdr, e_machine), &arm, 2);
  EXPECT_NE(parse_error(b).find("x86-64"), std::string::npos);
}

TEST(ElfFile, RejectsSectionTableOutsideTheFile) {
  auto b = read_bytes(kModule);
  uint64_t off = b.size() - 10;
  std::memcpy(b.data() + offsetof(Elf64_Ehdr, e_shoff), &off, 8);
  EXPECT_NE(parse_error(b).find("section header table"), std::string::npos);
  // An offset that would overflow when the table size is added.
  off = ~uint64_t{0} - 100;
  std::memcpy(b.data() + offsetof(Elf64_Ehdr, e_shoff), &off, 8);
  EXPECT_NE(parse_error(b).find("section header table"), std::string::npos);
}

TEST(ElfFile, RejectsBadSectionOffsets) {
  auto bytes = read_bytes(kModule);
  unsigned symtab = find_section(bytes, SHT_SYMTAB);
  ASSERT_NE(symtab, 0u);
  auto b = bytes;
  patch_section(b, symtab, [&](Elf64_Shdr& sh) { sh.sh_offset = bytes.size() + 1; });
  EXPECT_NE(parse_error(b).find("bad offset/size"), std::string::npos);
  b = bytes;
  patch_section(b, symtab, [](Elf64_Shdr& sh) { sh.sh_size = ~uint64_t{0}; });
  EXPECT_NE(parse_error(b).find("bad offset/size"), std::string::npos);
  b = bytes;
  patch_section(b, symtab, [](Elf64_Shdr& sh) { sh.sh_entsize = 7; });
  EXPECT_NE(parse_error(b).find("entry size"), std::string::npos);
  b = bytes;
  patch_section(b, symtab, [](Elf64_Shdr& sh) { sh.sh_link = 0xffff; });
  EXPECT_NE(parse_error(b).find("string table"), std::string::npos);
  b = bytes;
  patch_section(b, 1, [](Elf64_Shdr& sh) { sh.sh_addralign = 3; });
  EXPECT_NE(parse_error(b).find("alignment"), std::string::npos);
  b = bytes;
  patch_section(b, 1, [](Elf64_Shdr& sh) { sh.sh_name = 0x7fffffff; });
  EXPECT_NE(parse_error(b).find("name"), std::string::npos);
}

TEST(ElfFile, RejectsBadRelocationSections) {
  auto bytes = read_bytes(kModule);
  unsigned rela = find_section(bytes, SHT_RELA);
  ASSERT_NE(rela, 0u);
  auto b = bytes;
  patch_section(b, rela, [](Elf64_Shdr& sh) { sh.sh_info = 0xfff; });
  EXPECT_NE(parse_error(b).find("target"), std::string::npos);
  b = bytes;
  patch_section(b, rela, [](Elf64_Shdr& sh) { sh.sh_link = 1; });
  EXPECT_NE(parse_error(b).find("symbol table"), std::string::npos);
  // A relocation naming a symbol beyond the table.
  b = bytes;
  Elf64_Ehdr eh = header(b);
  Elf64_Shdr sh;
  std::memcpy(&sh, b.data() + eh.e_shoff + rela * sizeof sh, sizeof sh);
  Elf64_Rela r;
  std::memcpy(&r, b.data() + sh.sh_offset, sizeof r);
  r.r_info = ELF64_R_INFO(0xffffff, ELF64_R_TYPE(r.r_info));
  std::memcpy(b.data() + sh.sh_offset, &r, sizeof r);
  EXPECT_NE(parse_error(b).find("missing symbol"), std::string::npos);
}

TEST(ElfFile, SurvivesRandomCorruption) {
  auto bytes = read_bytes(kModule);
  uint64_t seed = 12345;
  auto next = [&] { return seed = seed * 6364136223846793005ull + 1442695040888963407ull; };
  int rejected = 0;
  for (int i = 0; i < 2000; ++i) {
    auto b = bytes;
    // Corrupt the headers, where every byte matters.
    for (int k = 0; k < 8; ++k) {
      size_t at = next() % 2 ? next() % 64 : header(bytes).e_shoff + next() % (header(bytes).e_shnum * 64);
      b[at % b.size()] = static_cast<uint8_t>(next() >> 56);
    }
    const size_t size = b.size();
    auto r = ElfFile::parse(std::move(b), "m.ko");
    if (!r) {
      ++rejected;
      EXPECT_FALSE(r.error().message.empty());
      continue;
    }
    // Whatever parses must be safe to walk: every section's bytes lie in the file.
    for (const auto& s : r->sections()) {
      if (s.type != SHT_NOBITS && s.index != 0) {
        EXPECT_EQ(s.data.size(), s.size);
        EXPECT_LE(s.offset + s.size, size);
      }
      if (s.type == SHT_RELA) {
        for (const auto& rel : r->relocations(s)) EXPECT_LT(rel.symbol, r->symbols().size());
      }
    }
  }
  EXPECT_GT(rejected, 100);
}

// Found by fuzz_elf: section 0 retyped as SHT_RELA was walked without its range ever being checked.
TEST(ElfFile, RejectsANonNullSectionZero) {
  auto b = read_bytes(kModule);
  patch_section(b, 0, [](Elf64_Shdr& sh) {
    sh.sh_type = SHT_RELA;
    sh.sh_offset = 1ull << 40;
    sh.sh_size = 24;
  });
  EXPECT_NE(parse_error(b).find("section 0 is not the null section"), std::string::npos);
}
