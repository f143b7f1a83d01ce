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
  std::vector<uint64_t> functions;
  for (const Symbol& sym : elf.symbols()) {
    if (sym.index != 0 && sym.type == STT_FUNC && sym.shndx == s.index && sym.value < s.size &&
        sym.name.find(".cold") == std::string_view::npos) {
      functions.push_back(sym.value);
    }
  }
  sfi::TranslateRequest req;
  req.code = s.data;
  req.relocations = relocs;
  req.functions = functions;
  const auto& symbols = elf.symbols();
  req.symbol_name = [&symbols](uint32_t i) { return i < symbols.size() ? symbols[i].name : std::string_view(); };
  req.abi = abi;
  req.what = module + " " + std::string(s.name);
  return sfi::translate(req);
}

}  // namespace side::loader
