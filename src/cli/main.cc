// side: runs unmodified Linux kernel driver binaries in isolated user-space domains.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/build_config.h"
#include "domain/process_main.h"

namespace {

void usage(FILE* out) {
  std::fprintf(
      out,
      "usage: side COMMAND [ARGS]\n"
      "\n"
      "commands:\n"
      "  run MODULE [PARAM=VALUE ...] [options]  load a driver into a domain and run it (see side run --help)\n"
      "  inject MODULE --faults N [...]          fault-injection campaign under traffic (see side inject --help)\n"
      "  bench [--quick] [--json] [--out DIR]    SIDE's evaluation, isolated against in-process (see side bench "
      "--help)\n"
      "  modinfo MODULE                          show a module's information and whether its ABI matches\n"
      "  symbols MODULE [--missing]              list a module's imports and whether side provides them\n"
      "\n"
      "MODULE is a name looked up like modprobe does (e1000, ne2k-pci) or a path to a .ko file.\n"
      "Kernel ABI: %s. Environment: SIDE_MODULES_DIR, SIDE_KAPI, SIDE_SYMVERS override the built-in paths.\n",
      SIDE_KERNEL_RELEASE);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h" || std::string(argv[1]) == "help") {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "modinfo") return side::cli::modinfo_command(args);
  if (command == "symbols") return side::cli::symbols_command(args);
  if (command == "run") return side::cli::run_command(args);
  if (command == "inject") return side::cli::inject_command(args);
  if (command == "bench") return side::cli::bench_command(args);
  // Internal: the program of a domain process, started by the supervisor with its descriptors.
  if (command == "__domain") return side::domain::run_domain_process(args);
  std::fprintf(stderr, "side: unknown command '%s'\n\n", command.c_str());
  usage(stderr);
  return 2;
}
