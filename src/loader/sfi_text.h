// The loader's side of sfi translation: one executable section of a module, its relocations and function entries
// handed to the translator (sfi/translate.h).
#pragma once

#include "common/result.h"
#include "loader/elf_file.h"
#include "sfi/translate.h"

namespace side::loader {

// Translates section `s` of `elf` (executable, PROGBITS) for the write window `abi`; `module` names it in errors.
Result<sfi::Translation> translate_section(const ElfFile& elf, const Section& s, const sfi::CheckAbi& abi,
                                           const std::string& module);

}  // namespace side::loader
