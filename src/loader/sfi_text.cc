#include "loader/sfi_text.h"

#include <elf.h>

namespace side::loader {

Result<sfi::Translation> translate_section(const ElfFile& elf, const Section& s, const sfi::CheckAbi& abi,
                                           const std::string& module) {
  std::vector<sfi::SourceRelocation> relocs;
  for (const Section* rela : elf.relocation_sections_for(s.index)) {
    for (const Relocation& r : elf.relocations(*rela)) {
      if (r.type == R_X86_64_NONE) continue;
      relocs.push_back(sfi::SourceRelocation{r.offset, r.type, r.symbol, r.addend});
    }
  }
  sfi::TranslateRequest req;
  req.code = s.data;
  req.relocations = relocs;
  const auto& symbols = elf.symbols();
  req.symbol_name = [&symbols](uint32_t i) { return i < symbols.size() ? symbols[i].name : std::string_view(); };
  req.abi = abi;
  req.what = module + " " + std::string(s.name);
  return sfi::translate(req);
}

}  // namespace side::loader
