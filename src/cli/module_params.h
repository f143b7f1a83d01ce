// Module parameters given on side's command line (insmod style: NAME=VALUE), checked against the module file
// before anything starts: a parameter the module does not have, or a value its type cannot take, is a usage
// error (one line, exit status 2) rather than a driver that fails to load in its domain (and in its spare) with a
// report of zeroes. The names come from the module's __param table (what the kernel matches against), the types
// from its "parmtype=" modinfo entries; a parameter with an operation of its own (no parmtype) is left to the
// driver, whose refusal is then reported as a failed load.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "loader/elf_file.h"
#include "loader/module_info.h"

namespace side::cli {

// The names in the module's __param table (each kernel_param's name, through its relocation).
std::vector<std::string> module_param_names(const loader::ElfFile& elf);

// Whether `value` is what a parameter of kernel type `type` ("int", "array of uint", "bool", "charp") accepts, as
// the kernel's param_set_* would parse it; an unknown type accepts anything. `value` is null for a bare NAME.
bool param_value_fits(std::string_view type, const std::string* value);

// Checks "NAME[=VALUE] NAME[=VALUE] ..." (RunArgs::params) against `module` (a name looked up in `modules_dir`, or
// a path); the error names the parameter and what it takes.
Status check_module_params(const std::string& module, const std::string& modules_dir, const std::string& params);

}  // namespace side::cli
