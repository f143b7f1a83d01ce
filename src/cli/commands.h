// The `side` subcommands. Each takes the arguments after its name and returns the process exit status.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "cli/args.h"

namespace side::cli {

// Where side finds the kernel-API layer, Module.symvers and the module cache: the values fixed at configure time,
// each overridable by an environment variable (SIDE_KAPI, SIDE_SYMVERS, SIDE_MODULES_DIR).
struct Paths {
  std::string kapi;
  std::string symvers;
  std::string modules_dir;
  static Paths from_environment();
};

// The commands a user types (side --help describes each; bash completion offers them).
inline constexpr const char* kCommands[] = {"run",     "inject", "bench",   "conformance", "modinfo",
                                            "symbols", "status", "devices", "version",     "help"};

// Each command runs on arguments parse_command_line() validated (cli/args.h).
int version_command();
int complete_command(const CompleteArgs& args);
int modinfo_command(const ModinfoArgs& args);
int symbols_command(const SymbolsArgs& args);
int run_command(const RunArgs& args);
int inject_command(const InjectArgs& args);
int bench_command(const BenchArgs& args);
int conformance_command(const ConformanceArgs& args);
int status_command(const StatusArgs& args);
int devices_command(const DevicesArgs& args);

// Each command's usage text.
void run_usage(FILE* out);
void inject_usage(FILE* out);
void bench_usage(FILE* out);
void conformance_usage(FILE* out);
void status_usage(FILE* out);
void devices_usage(FILE* out);

}  // namespace side::cli
