// The `side` subcommands. Each takes the arguments after its name and returns the process exit status.
#pragma once

#include <string>
#include <vector>

namespace side::cli {

// Where side finds the kernel-API layer, Module.symvers and the module cache: the values fixed at configure time,
// each overridable by an environment variable (SIDE_KAPI, SIDE_SYMVERS, SIDE_MODULES_DIR).
struct Paths {
  std::string kapi;
  std::string symvers;
  std::string modules_dir;
  static Paths from_environment();
};

int modinfo_command(const std::vector<std::string>& args);
int symbols_command(const std::vector<std::string>& args);
int run_command(const std::vector<std::string>& args);
int inject_command(const std::vector<std::string>& args);
int bench_command(const std::vector<std::string>& args);

}  // namespace side::cli
