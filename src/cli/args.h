// The command line of every `side` command, parsed and validated without side effects: no output, no exit, no
// file access. main() parses first and starts work only on a valid command line; a libFuzzer target
// (tests/fuzz/cli) feeds arbitrary argv to parse_command_line(). Numbers are parsed strictly with a range
// (common/numbers.h); every option is known; a value-taking option has its value.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/result.h"
#include "ipc/optimisations.h"
#include "session/fault_campaign.h"

namespace side::cli {

struct RunArgs {
  std::string module, params, isolation = "process";
  bool allow_missing = false, json = false, quiet = false, real_time = false, load_only = false;
  ipc::Optimisations optimisations;
  uint64_t arena_mb = 64, packets = 0, frame_size = 0, instances = 1;
  double duration = 0, kill_after = 0, crash_every = 0, inject_every = 0;
  unsigned crashes = 10;
  bool builtin = false, request_response = false;
  std::string direction = "both";  // built-in traffic: tx (host -> wire), rx (wire -> host) or both
  std::string device;              // --device builtin|qemu:MODEL ("": the first model the driver's id table matches)
  std::string ifname = "side0", wire_tap, pcap, exec, peer_exec, host_addr = "10.77.0.1/24", peer_addr = "10.77.0.2/24";
  // Disk drivers (virtio_blk, nvme): the image, the exports, the verified workload.
  std::string disk, fuse, nbd_socket;
  std::optional<uint16_t> nbd_port;
  bool verify = false;
};

struct InjectArgs {
  std::string module;
  std::string isolation = "process";  // or "sfi" (in side's process, restarted in a fresh sfi domain)
  session::CampaignConfig campaign;
  bool json = false, quiet = false;
};

struct BenchArgs {
  bool quick = false, json = false, quiet = false;
  std::string bench_class = "net";  // --class: "net" (the e1000, SIDE's evaluation) or "block" (virtio_blk)
  std::string out_dir;
  std::set<std::string> sections;                      // empty: all
  std::vector<size_t> frame_sizes;                     // without FCS; empty: the defaults
  std::vector<uint32_t> request_sizes, depths;         // --class block: bytes, requests in flight; empty: defaults
  double window = 0;                                   // 0: the default
  long repeats = -1, recoveries = -1, exchanges = -1;  // -1: the default
};

// `side conformance [--drivers LIST] [--json] [--markdown] [--out DIR] [--quiet]`: the NIC conformance table.
struct ConformanceArgs {
  std::vector<std::string> drivers;  // rows: DRIVER or DRIVER@DEVICE (conformance/matrix.h); empty: all
  bool json = false, markdown = false, quiet = false;
  std::optional<uint64_t> tcp_seconds;  // each iperf3 direction; unset: the runner's default
  std::string out_dir;
};

struct ModinfoArgs {
  std::string module;
};

struct SymbolsArgs {
  std::string module;
  bool only_missing = false;
};

// `side status [--json]`: ask every running side of this user (cli/status_command.cc).
struct StatusArgs {
  bool json = false;
};

// `side devices [--drivers] [--json]`: the device models side provides (cli/devices_command.cc).
struct DevicesArgs {
  bool drivers = false, json = false;
};

// `side __domain ...`: the internal program of a domain process, its arguments kept as given (the domain parses
// them: domain/process_main.h).
struct DomainArgs {
  std::vector<std::string> args;
};

// `side`, `side --help` and `side COMMAND --help`: print a usage text and succeed.
struct HelpArgs {
  std::string command;  // empty: side's own usage
};

// `side --version`: side's version, the git revision, the kernel ABI and the IPC protocol it was built for.
struct VersionArgs {};

// `side __complete WHAT`: the words bash completion offers (dist/completion/side.bash); WHAT is "commands",
// "modules" (the driver modules in the module cache) or "devices" (the device models, as `side devices` lists).
struct CompleteArgs {
  std::string what;
};

using CommandArgs = std::variant<HelpArgs, VersionArgs, CompleteArgs, RunArgs, InjectArgs, BenchArgs, ConformanceArgs,
                                 ModinfoArgs, SymbolsArgs, StatusArgs, DevicesArgs, DomainArgs>;

// The arguments after the program name. An error is one line, without the "side: " prefix, naming the command and
// what is wrong with which argument.
Result<CommandArgs> parse_command_line(std::span<const std::string> args);

// The module named on a command line exists and is an ELF kernel module (a name found as modprobe does, or a
// path). Reads the file's header; the caller runs this before any work.
Status check_module(const std::string& module, const std::string& modules_dir);

}  // namespace side::cli
