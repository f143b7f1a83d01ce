#include "cli/args.h"

#include <arpa/inet.h>
#include <elf.h>

#include <cctype>
#include <cstring>
#include <fstream>

#include "common/numbers.h"
#include "common/strings.h"
#include "conformance/matrix.h"
#include "devices/device_models.h"
#include "domain/process_main.h"
#include "loader/module_index.h"

namespace side::cli {
namespace {

// Walks one command's arguments; every error names the command.
class Reader {
 public:
  Reader(std::span<const std::string> args, std::string command) : args_(args), command_(std::move(command)) {}
  bool done() const { return i_ >= args_.size(); }
  const std::string& take() { return args_[i_++]; }
  Error error(const std::string& message) const { return make_error(command_ + ": " + message); }

  Result<std::string> value(const std::string& option) {
    if (done()) return error(option + " needs a value");
    const std::string& v = take();
    if (v.empty()) return error(option + " needs a value, not an empty one");
    return v;
  }
  Result<uint64_t> integer(const std::string& option, uint64_t min, uint64_t max) {
    auto v = value(option);
    if (!v) return v.error();
    auto n = parse_unsigned(*v, min, max, option);
    if (!n) return error(n.error().message);
    return *n;
  }
  Result<double> decimal(const std::string& option, double min, double max) {
    auto v = value(option);
    if (!v) return v.error();
    auto n = parse_decimal(*v, min, max, option);
    if (!n) return error(n.error().message);
    return *n;
  }

 private:
  std::span<const std::string> args_;
  std::string command_;
  size_t i_ = 0;
};

// Assigns a parsed value or returns its error from the enclosing parser.
#define SIDE_ASSIGN(target, expr)                   \
  do {                                              \
    auto side_assign_ = (expr);                     \
    if (!side_assign_) return side_assign_.error(); \
    (target) = *side_assign_;                       \
  } while (0)

bool is_help(const std::string& a) {
  return a == "--help" || a == "-h";
}

// What a kernel module parameter on the command line looks like: NAME or NAME=VALUE (VALUE may be anything).
bool valid_param(const std::string& p) {
  size_t end = p.find('=');
  std::string_view name = std::string_view(p).substr(0, end);
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  }
  return true;
}

// A network interface name the kernel accepts: 1..15 bytes, no '/', ':' or white space, not "." or "..".
bool valid_ifname(const std::string& n) {
  if (n.empty() || n.size() > 15 || n == "." || n == "..") return false;
  for (char c : n) {
    if (c == '/' || c == ':' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  return true;
}

// An IPv4 address with a prefix length: A.B.C.D/N, N in 1..30 (room for two hosts).
bool valid_address(const std::string& a) {
  size_t slash = a.find('/');
  if (slash == std::string::npos) return false;
  in_addr addr{};
  if (inet_pton(AF_INET, a.substr(0, slash).c_str(), &addr) != 1) return false;
  return parse_unsigned(std::string_view(a).substr(slash + 1), 1, 30, "prefix").ok();
}

// A value checked by `valid`, or an error naming what is expected.
Result<std::string> checked(Reader& r, const std::string& option, bool (*valid)(const std::string&),
                            const char* expected) {
  auto v = r.value(option);
  if (!v) return v.error();
  if (!valid(*v)) return r.error(option + " takes " + expected);
  return v;
}

Status parse_wire(Reader& r, RunArgs& out) {
  auto w = r.value("--wire");
  if (!w) return w.error();
  if (*w == "builtin") {
    out.builtin = true;
  } else if (w->starts_with("tap:") && w->size() > 4 && valid_ifname(w->substr(4, w->find('@') - 4))) {
    out.wire_tap = w->substr(4);
  } else if (w->starts_with("pcap:") && w->size() > 5) {
    out.pcap = w->substr(5);
  } else {
    return r.error("--wire takes builtin, tap:NAME[@NETNS] or pcap:FILE");
  }
  return {};
}

// --nbd SOCKET|PORT: digits alone are a TCP port on 127.0.0.1 (0: any free one), anything else a Unix socket.
Status parse_nbd(Reader& r, RunArgs& out) {
  auto v = r.value("--nbd");
  if (!v) return v.error();
  if (v->empty()) return r.error("--nbd takes a Unix socket path or a TCP port");
  if (v->find_first_not_of("0123456789") != std::string::npos) {
    out.nbd_socket = *v;
  } else if (v->size() <= 5 && std::stoul(*v) <= 65535) {
    out.nbd_port = static_cast<uint16_t>(std::stoul(*v));
  } else {
    return r.error("--nbd takes a port 0..65535");
  }
  return {};
}

// The options of `side run` that take a number.
Result<bool> parse_run_number(Reader& r, const std::string& a, RunArgs& out) {
  if (a == "--arena-mb") {
    SIDE_ASSIGN(out.arena_mb, r.integer(a, 4, 2048));
  } else if (a == "--packets") {
    SIDE_ASSIGN(out.packets, r.integer(a, 1, 1'000'000'000));
  } else if (a == "--frame-size") {
    SIDE_ASSIGN(out.frame_size, r.integer(a, 60, 1514));
  } else if (a == "--instances") {
    SIDE_ASSIGN(out.instances, r.integer(a, 1, 8));
  } else if (a == "--crashes") {
    SIDE_ASSIGN(out.crashes, r.integer(a, 1, 100'000));
  } else if (a == "--duration") {
    SIDE_ASSIGN(out.duration, r.decimal(a, 0.001, 1e6));
  } else if (a == "--crash-every") {
    SIDE_ASSIGN(out.crash_every, r.decimal(a, 0.01, 1e6));
  } else if (a == "--kill-after") {
    SIDE_ASSIGN(out.kill_after, r.decimal(a, 0.001, 1e6));
  } else if (a == "--inject-every") {
    SIDE_ASSIGN(out.inject_every, r.decimal(a, 0.5, 3600));
  } else {
    return false;
  }
  return true;
}

// The options of `side run` that take a string.
Result<bool> parse_run_string(Reader& r, const std::string& a, RunArgs& out) {
  if (a == "--isolation") {
    SIDE_ASSIGN(out.isolation, r.value(a));
    if (out.isolation != "process" && out.isolation != "inproc" && out.isolation != "sfi") {
      return r.error(a + " takes process, inproc or sfi");
    }
  } else if (a == "--disable") {
    auto v = r.value(a);
    if (!v) return v.error();
    if (!ipc::disable_optimisations(*v, out.optimisations)) {
      return r.error(a + " takes streamlined, batched and/or pretranslation");
    }
  } else if (a == "--direction") {
    SIDE_ASSIGN(out.direction, r.value(a));
    if (out.direction != "tx" && out.direction != "rx" && out.direction != "both")
      return r.error(a + " takes tx, rx or both");
  } else if (a == "--device") {
    SIDE_ASSIGN(out.device, r.value(a));
    if (out.device != "builtin" && !(out.device.starts_with("qemu:") && devices::find_device_model(out.device)))
      return r.error(a + " takes builtin or qemu:MODEL (" + devices::describe_qemu_models() + ")");
  } else if (a == "--ifname") {
    SIDE_ASSIGN(out.ifname, checked(r, a, valid_ifname, "an interface name (1..15 characters, no '/', ':' or space)"));
  } else if (a == "--wire") {
    SIDE_TRY(parse_wire(r, out));
  } else if (a == "--exec") {
    SIDE_ASSIGN(out.exec, r.value(a));
  } else if (a == "--peer-exec") {
    SIDE_ASSIGN(out.peer_exec, r.value(a));
  } else if (a == "--disk") {
    SIDE_ASSIGN(out.disk, r.value(a));
  } else if (a == "--fuse") {
    SIDE_ASSIGN(out.fuse, r.value(a));
  } else if (a == "--nbd") {
    SIDE_TRY(parse_nbd(r, out));
  } else if (a == "--host-addr" || a == "--peer-addr") {
    SIDE_ASSIGN(a == "--host-addr" ? out.host_addr : out.peer_addr,
                checked(r, a, valid_address, "an IPv4 address and prefix, A.B.C.D/N with N in 1..30"));
  } else {
    return false;
  }
  return true;
}

Result<CommandArgs> parse_run(Reader& r) {
  RunArgs out;
  while (!r.done()) {
    const std::string& a = r.take();
    if (is_help(a)) return CommandArgs{HelpArgs{"run"}};
    auto number = parse_run_number(r, a, out);
    if (!number) return number.error();
    auto string = parse_run_string(r, a, out);
    if (!string) return string.error();
    if (*number || *string) continue;
    if (a == "--allow-missing") {
      out.allow_missing = true;
    } else if (a == "--json") {
      out.json = true;
    } else if (a == "--quiet") {
      out.quiet = true;
    } else if (a == "--real-time") {
      out.real_time = true;
    } else if (a == "--request-response") {
      out.request_response = true;
    } else if (a == "--load-only") {
      out.load_only = true;
    } else if (a == "--verify") {
      out.verify = true;
    } else if (a.starts_with("-")) {
      return r.error("unknown option '" + a + "' (side run --help lists them)");
    } else if (out.module.empty()) {
      if (a.empty()) return r.error("MODULE is empty");
      out.module = a;
    } else {
      if (!valid_param(a)) return r.error("'" + a + "' is not a module parameter (NAME or NAME=VALUE)");
      out.params += (out.params.empty() ? "" : " ") + a;
    }
  }
  if (out.module.empty()) return r.error("needs a MODULE (side run --help)");
  if (out.isolation != "process" && (out.instances > 1 || out.kill_after > 0)) {
    return r.error("--instances and --kill-after need --isolation process");
  }
  // A driver in side's own process has no domain to kill and restart.
  if (out.isolation != "process" && out.crash_every > 0) return r.error("--crash-every needs --isolation process");
  if (out.inject_every > 0 && (out.builtin || out.isolation != "process" || out.instances > 1)) {
    return r.error("--inject-every needs the host interface and --isolation process");
  }
  return CommandArgs{std::move(out)};
}

Result<CommandArgs> parse_inject(Reader& r) {
  InjectArgs out;
  while (!r.done()) {
    const std::string& a = r.take();
    if (is_help(a)) return CommandArgs{HelpArgs{"inject"}};
    if (a == "--faults") {
      SIDE_ASSIGN(out.campaign.faults, r.integer(a, 1, 1'000'000));
    } else if (a == "--seed") {
      SIDE_ASSIGN(out.campaign.seed, r.integer(a, 0, UINT64_MAX));
    } else if (a == "--window") {
      SIDE_ASSIGN(out.campaign.window_s, r.decimal(a, 0.1, 3600));
    } else if (a == "--types") {
      auto list = r.value(a);
      if (!list) return list.error();
      for (const auto& t : split(*list, ',')) {
        auto type = session::parse_fault_type(t);
        if (!type) return r.error("unknown fault type '" + t + "' (side inject --help lists them)");
        out.campaign.types.push_back(*type);
      }
      if (out.campaign.types.empty()) return r.error("--types needs at least one fault type");
    } else if (a == "--isolation") {
      SIDE_ASSIGN(out.isolation, r.value(a));
      if (out.isolation != "process" && out.isolation != "sfi") return r.error(a + " takes process or sfi");
    } else if (a == "--json") {
      out.json = true;
    } else if (a == "--quiet") {
      out.quiet = true;
    } else if (a == "--verbose") {
      out.campaign.verbose = true;
    } else if (a.starts_with("-")) {
      return r.error("unknown option '" + a + "' (side inject --help lists them)");
    } else if (out.module.empty() && !a.empty()) {
      out.module = a;
    } else {
      return r.error("unexpected argument '" + a + "'");
    }
  }
  if (out.module.empty()) return r.error("needs a MODULE (side inject --help)");
  return CommandArgs{std::move(out)};
}

// A request size: bytes, or with K/KiB or M/MiB; a multiple of 512 from 512 B to 1 MiB.
Result<uint32_t> request_size(const std::string& text) {
  std::string digits = text;
  uint64_t unit = 1;
  for (const auto& [suffix, scale] : {std::pair{"KiB", 1024}, {"K", 1024}, {"MiB", 1 << 20}, {"M", 1 << 20}}) {
    const std::string sfx = suffix;
    if (digits.size() > sfx.size() && digits.ends_with(sfx)) {
      digits.resize(digits.size() - sfx.size());
      unit = static_cast<uint64_t>(scale);
      break;
    }
  }
  auto n = parse_unsigned(digits, 1, 1u << 20, "a request size");
  if (!n || *n * unit % 512 != 0 || *n * unit > (1u << 20)) {
    return make_error("a request size is a multiple of 512 bytes from 512 to 1M, not '" + text + "'");
  }
  return static_cast<uint32_t>(*n * unit);
}

// --sizes means frame sizes for the NIC and request sizes for disks: read once the class is known.
Status bench_sizes(Reader& r, const std::string& list, BenchArgs& out) {
  for (const auto& s : split(list, ',')) {
    if (out.bench_class == "block") {
      auto size = request_size(s);
      if (!size) return r.error(size.error().message);
      out.request_sizes.push_back(*size);
    } else {
      auto size = parse_unsigned(s, 64, 1518, "a frame size (with FCS)");
      if (!size) return r.error(size.error().message);
      out.frame_sizes.push_back(static_cast<size_t>(*size - 4));
    }
  }
  if (out.request_sizes.empty() && out.frame_sizes.empty()) return r.error("--sizes needs at least one item");
  return {};
}

Status parse_bench_lists(Reader& r, const std::string& a, BenchArgs& out) {
  auto list = r.value(a);
  if (!list) return list.error();
  for (const auto& s : split(*list, ',')) {
    if (a == "--depths") {
      auto depth = parse_unsigned(s, 1, 32, "--depths");
      if (!depth) return r.error(depth.error().message);
      out.depths.push_back(static_cast<uint32_t>(*depth));
    } else if (a == "--sections") {
      if (s != "throughput" && s != "optimisations" && s != "latency" && s != "tcp" && s != "recovery") {
        return r.error("unknown section '" + s + "'");
      }
      out.sections.insert(s);
    }
  }
  if (out.sections.empty() && out.depths.empty()) return r.error(a + " needs at least one item");
  return {};
}

// What only one class measures is refused with the other.
Status check_bench_class(Reader& r, const BenchArgs& out, bool net_only_given) {
  if (out.bench_class == "block" && net_only_given) {
    return r.error("--sections, --recoveries and --exchanges are the NIC bench's (not with --class block)");
  }
  if (out.bench_class == "net" && !out.depths.empty()) return r.error("--depths needs --class block");
  return {};
}

Result<CommandArgs> parse_bench(Reader& r) {
  BenchArgs out;
  std::string sizes;
  bool net_only = false;
  while (!r.done()) {
    const std::string& a = r.take();
    if (is_help(a)) return CommandArgs{HelpArgs{"bench"}};
    if (a == "--quick") {
      out.quick = true;
    } else if (a == "--quiet") {
      out.quiet = true;
    } else if (a == "--json") {
      out.json = true;
    } else if (a == "--out") {
      SIDE_ASSIGN(out.out_dir, r.value(a));
    } else if (a == "--class") {
      SIDE_ASSIGN(out.bench_class, r.value(a));
      if (out.bench_class != "net" && out.bench_class != "block") {
        return r.error("--class is net or block, not '" + out.bench_class + "'");
      }
    } else if (a == "--sizes") {
      SIDE_ASSIGN(sizes, r.value(a));
    } else if (a == "--sections" || a == "--depths") {
      net_only |= a == "--sections";
      SIDE_TRY(parse_bench_lists(r, a, out));
    } else if (a == "--window") {
      SIDE_ASSIGN(out.window, r.decimal(a, 0.01, 3600));
    } else if (a == "--repeats") {
      SIDE_ASSIGN(out.repeats, r.integer(a, 1, 1000));
    } else if (a == "--recoveries") {
      SIDE_ASSIGN(out.recoveries, r.integer(a, 0, 100'000));
      net_only = true;
    } else if (a == "--exchanges") {
      SIDE_ASSIGN(out.exchanges, r.integer(a, 1, 100'000'000));
      net_only = true;
    } else {
      return r.error("unknown argument '" + a + "' (side bench --help lists them)");
    }
  }
  if (!sizes.empty()) SIDE_TRY(bench_sizes(r, sizes, out));
  SIDE_TRY(check_bench_class(r, out, net_only));
  return CommandArgs{std::move(out)};
}

Result<CommandArgs> parse_conformance(Reader& r) {
  ConformanceArgs out;
  while (!r.done()) {
    const std::string& a = r.take();
    if (is_help(a)) return CommandArgs{HelpArgs{"conformance"}};
    if (a == "--json") {
      out.json = true;
    } else if (a == "--markdown") {
      out.markdown = true;
    } else if (a == "--quiet") {
      out.quiet = true;
    } else if (a == "--out") {
      SIDE_ASSIGN(out.out_dir, r.value(a));
    } else if (a == "--tcp-seconds") {
      SIDE_ASSIGN(out.tcp_seconds, r.integer(a, 1, 3600));
    } else if (a == "--drivers") {
      auto list = r.value(a);
      if (!list) return list.error();
      out.drivers = split(*list, ',');
      if (auto rows = conformance::select_rows(out.drivers); !rows) return r.error(a + ": " + rows.error().message);
    } else {
      return r.error("unknown argument '" + a + "' (side conformance --help lists them)");
    }
  }
  if (out.json && out.markdown) return r.error("--json and --markdown: choose one");
  return CommandArgs{std::move(out)};
}

// modinfo MODULE, symbols MODULE [--missing].
Result<CommandArgs> parse_module_query(Reader& r, const std::string& command) {
  SymbolsArgs out;
  while (!r.done()) {
    const std::string& a = r.take();
    if (is_help(a)) return CommandArgs{HelpArgs{command}};
    if (a == "--missing" && command == "symbols") {
      out.only_missing = true;
    } else if (a.starts_with("-")) {
      return r.error("unknown option '" + a + "'");
    } else if (out.module.empty() && !a.empty()) {
      out.module = a;
    } else {
      return r.error("takes one MODULE, not '" + a + "'");
    }
  }
  if (out.module.empty()) return r.error("needs a MODULE");
  if (command == "modinfo") return CommandArgs{ModinfoArgs{out.module}};
  return CommandArgs{std::move(out)};
}

Result<CommandArgs> parse_status(Reader& r) {
  StatusArgs out;
  while (!r.done()) {
    const std::string& a = r.take();
    if (is_help(a)) return CommandArgs{HelpArgs{"status"}};
    if (a != "--json") return r.error("unknown argument '" + a + "' (side status --help lists them)");
    out.json = true;
  }
  return CommandArgs{out};
}

Result<CommandArgs> parse_devices(Reader& r) {
  DevicesArgs out;
  while (!r.done()) {
    const std::string& a = r.take();
    if (is_help(a)) return CommandArgs{HelpArgs{"devices"}};
    if (a == "--json") {
      out.json = true;
    } else if (a == "--drivers") {
      out.drivers = true;
    } else {
      return r.error("unknown argument '" + a + "' (side devices --help lists them)");
    }
  }
  return CommandArgs{out};
}

}  // namespace

Result<CommandArgs> parse_command_line(std::span<const std::string> args) {
  if (args.empty()) return make_error("no command given (side --help lists them)");
  const std::string& command = args[0];
  if (is_help(command) || command == "help") return CommandArgs{HelpArgs{}};
  if (command == "--version" || command == "version") {
    if (args.size() > 1) return make_error(command + " takes no arguments");
    return CommandArgs{VersionArgs{}};
  }
  if (command == "__complete") {
    if (args.size() != 2 ||
        (args[1] != "commands" && args[1] != "modules" && args[1] != "devices" && args[1] != "rows")) {
      return make_error("__complete takes one of: commands, modules, devices, rows");
    }
    return CommandArgs{CompleteArgs{args[1]}};
  }
  Reader r(args.subspan(1), command);
  if (command == "run") return parse_run(r);
  if (command == "inject") return parse_inject(r);
  if (command == "bench") return parse_bench(r);
  if (command == "conformance") return parse_conformance(r);
  if (command == "modinfo" || command == "symbols") return parse_module_query(r, command);
  if (command == "status") return parse_status(r);
  if (command == "devices") return parse_devices(r);
  if (command == "__domain") {
    std::vector<std::string> rest(args.begin() + 1, args.end());
    auto parsed = domain::parse_domain_args(rest);
    if (!parsed) return r.error(parsed.error().message);
    return CommandArgs{DomainArgs{std::move(rest)}};
  }
  std::string shown = command.substr(0, 32);
  for (char& c : shown) c = (c >= 0x20 && c < 0x7f) ? c : '?';
  return make_error("unknown command '" + shown + "' (side --help lists them)");
}

Status check_module(const std::string& module, const std::string& modules_dir) {
  loader::ModuleIndex index(modules_dir);
  auto path = index.resolve(module);
  if (!path) return path.error();
  // The identification a kernel module has: a 64-bit little-endian relocatable ELF object for x86-64.
  Elf64_Ehdr header{};
  std::ifstream in(*path, std::ios::binary);
  in.read(reinterpret_cast<char*>(&header), sizeof header);
  bool elf = in.gcount() == sizeof header && std::memcmp(header.e_ident, ELFMAG, SELFMAG) == 0 &&
             header.e_ident[EI_CLASS] == ELFCLASS64 && header.e_ident[EI_DATA] == ELFDATA2LSB &&
             header.e_type == ET_REL && header.e_machine == EM_X86_64;
  if (!elf) return make_error(*path + " is not a kernel module (an x86-64 relocatable ELF file)");
  return {};
}

}  // namespace side::cli
