// side: runs unmodified Linux kernel driver binaries in isolated user-space domains.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>
#include <vector>

#include "cli/commands.h"
#include "cli/module_params.h"
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
      "  conformance [--json] [--drivers LIST]   the NIC conformance table: each driver on its device (see side "
      "conformance --help)\n"
      "  modinfo MODULE                          show a module's information and whether its ABI matches\n"
      "  symbols MODULE [--missing]              list a module's imports and whether side provides them\n"
      "  status [--json]                         state and counters of every running side (see side status --help)\n"
      "  devices [--drivers] [--json]            the device models side provides, and the drivers that match them\n"
      "  version                                 side's version, git revision, kernel ABI and IPC protocol\n"
      "\n"
      "MODULE is a name looked up like modprobe does (e1000, ne2k-pci) or a path to a .ko file.\n"
      "Kernel ABI: %s. Environment: SIDE_MODULES_DIR, SIDE_KAPI, SIDE_SYMVERS override the built-in paths.\n",
      SIDE_KERNEL_RELEASE);
}

// A HelpArgs: the usage of side or of one command, on stdout.
int help(const side::cli::HelpArgs& h) {
  if (h.command == "run")
    side::cli::run_usage(stdout);
  else if (h.command == "inject")
    side::cli::inject_usage(stdout);
  else if (h.command == "bench")
    side::cli::bench_usage(stdout);
  else if (h.command == "conformance")
    side::cli::conformance_usage(stdout);
  else if (h.command == "status")
    side::cli::status_usage(stdout);
  else if (h.command == "devices")
    side::cli::devices_usage(stdout);
  else if (h.command == "modinfo")
    std::printf("usage: side modinfo MODULE\n");
  else if (h.command == "symbols")
    std::printf("usage: side symbols MODULE [--missing]\n");
  else
    usage(stdout);
  return 0;
}

// Bad input ends here, before any work: status 2 and one line on stderr.
int refuse(const std::string& message) {
  // The message quotes what the user typed: control characters (a newline, an escape sequence) are shown as '?'
  // so that the refusal stays one plain line, and a huge argument does not make a huge line.
  constexpr size_t kLongest = 400;
  std::string line = message.substr(0, kLongest);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  std::fprintf(stderr, "side: %s%s\n", line.c_str(), message.size() > kLongest ? "..." : "");
  return 2;
}

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
// Clang 14 (the fuzz build's compiler) does not deduce aggregate template arguments by itself.
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

}  // namespace

int main(int argc, char** argv) {
  using namespace side::cli;
  const std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = parse_command_line(args);
  if (!parsed) return refuse(parsed.error().message);
  // A module named on the command line must exist and be a kernel module before anything starts.
  auto module_ok = [](const std::string& command, const std::string& module, auto run) {
    if (auto s = check_module(module, Paths::from_environment().modules_dir); !s) {
      return refuse(command + ": " + s.error().message);
    }
    return run();
  };
  return std::visit(
      Overloaded{
          [](const HelpArgs& h) { return help(h); },
          [](const VersionArgs&) { return version_command(); },
          [](const CompleteArgs& a) { return complete_command(a); },
          [&](const RunArgs& a) {
            return module_ok("run", a.module, [&] {
              // Its parameters too: a name it does not have or a value its type cannot take is the user's error.
              const auto checked = check_module_params(a.module, Paths::from_environment().modules_dir, a.params);
              return checked ? run_command(a) : refuse("run: " + checked.error().message);
            });
          },
          [&](const InjectArgs& a) { return module_ok("inject", a.module, [&] { return inject_command(a); }); },
          [](const BenchArgs& a) { return bench_command(a); },
          [](const ConformanceArgs& a) { return conformance_command(a); },
          [](const StatusArgs& a) { return status_command(a); },
          [](const DevicesArgs& a) { return devices_command(a); },
          [&](const ModinfoArgs& a) { return module_ok("modinfo", a.module, [&] { return modinfo_command(a); }); },
          [&](const SymbolsArgs& a) { return module_ok("symbols", a.module, [&] { return symbols_command(a); }); },
          // Internal: the program of a domain process, started by the supervisor with its descriptors.
          [](const DomainArgs& a) { return side::domain::run_domain_process(a.args); },
      },
      *parsed);
}
