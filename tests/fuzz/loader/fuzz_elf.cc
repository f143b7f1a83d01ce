// Feeds arbitrary bytes to the module-file parsers: ELF validation, .modinfo/__versions, CRC and symbol tables.
// Nothing a module file contains may crash them, and whatever they accept must be safe to walk.
#include <cstdint>
#include <vector>

#include "loader/elf_file.h"
#include "loader/module_info.h"
#include "loader/module_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  auto elf = side::loader::ElfFile::parse(std::move(bytes), "fuzz.ko");
  if (!elf) return 0;
  for (const auto& s : elf->sections()) {
    if (s.type == 4 /* SHT_RELA */) (void)elf->relocations(s);
  }
  (void)side::loader::imported_symbols(*elf);
  (void)side::loader::exported_symbols(*elf, true);
  (void)side::loader::exported_crcs(*elf);
  if (auto info = side::loader::read_module_info(*elf)) {
    (void)info->depends();
    (void)info->pci_ids();
  }
  return 0;
}
