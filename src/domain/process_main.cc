#include "domain/process_main.h"

#include <malloc.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

#include "common/log.h"
#include "common/numbers.h"
#include "common/strings.h"
#include "domain/control_server.h"
#include "domain/domain.h"
#include "domain/layout.h"
#include "domain/remote_platform.h"
#include "ipc/channel.h"
#include "ipc/doorbell.h"
#include "ipc/optimisations.h"
#include "sandbox/sandbox.h"

namespace side::domain {
namespace {

using Args = DomainProcessArgs;

// The domain holds no descriptor of the user's (its 0, 1 and 2 are /dev/null): once the channel is up, an early
// error goes through it as a log line; before that, the exit status alone tells the supervisor.
std::function<void(const std::string&)> g_report_error;

[[noreturn]] void die(const std::string& message) {
  if (g_report_error) g_report_error("side: domain start-up: " + message);
  std::_Exit(kExitStartupFailed);
}

// Descriptor numbers the supervisor hands over start at 3 (after stdin, stdout and stderr).
Result<int> parse_fd(const std::string& text, const std::string& what) {
  auto n = parse_unsigned(text, 3, 65535, what);
  if (!n) return n.error();
  return static_cast<int>(*n);
}

Status parse_one(const std::vector<std::string>& a, size_t& i, Args& out) {
  const std::string& option = a[i];
  if (option == "--allow-missing") {
    out.allow_missing = true;
    return {};
  }
  if (option == "--real-time") {
    out.real_time = true;
    return {};
  }
  if (i + 1 >= a.size()) return make_error(option.starts_with("--") ? option + " needs a value" : "unknown argument");
  const std::string& v = a[++i];
  if (option == "--channel" || option == "--arena" || option == "--kapi" || option == "--symvers") {
    auto fd = parse_fd(v, option);
    if (!fd) return fd.error();
    int& target = option == "--channel" ? out.channel_fd
                  : option == "--arena" ? out.arena_fd
                  : option == "--kapi"  ? out.kapi_fd
                                        : out.symvers_fd;
    target = *fd;
  } else if (option == "--arena-bytes") {
    auto n = parse_unsigned(v, kPageSize, 4ull << 30, option);
    if (!n) return n.error();
    out.arena_bytes = *n;
  } else if (option == "--params") {
    out.params = v;
  } else if (option == "--disable") {
    if (!ipc::disable_optimisations(v, out.optimisations)) return make_error("--disable: unknown optimisation");
  } else if (option == "--module") {
    auto colon = v.rfind(':');
    if (colon == std::string::npos || colon == 0) return make_error("--module takes NAME:FD");
    auto fd = parse_fd(v.substr(colon + 1), "--module's FD");
    if (!fd) return fd.error();
    out.modules.emplace_back(v.substr(0, colon), *fd);
  } else {
    return make_error("unknown argument");
  }
  return {};
}

}  // namespace

Result<DomainProcessArgs> parse_domain_args(const std::vector<std::string>& a) {
  Args out;
  for (size_t i = 0; i < a.size(); ++i) {
    if (auto s = parse_one(a, i, out); !s) return s.error();
  }
  if (out.channel_fd < 0 || out.arena_fd < 0 || out.kapi_fd < 0 || out.symvers_fd < 0 || out.modules.empty() ||
      out.arena_bytes == 0) {
    return make_error("needs --channel, --arena, --arena-bytes, --kapi, --symvers and --module");
  }
  return out;
}

namespace {

std::string read_all(int fd) {
  std::string out;
  struct stat st {};
  if (fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) die(std::string("read: ") + std::strerror(errno));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

namespace {

ipc::Channel map_channel(int fd) {
  const size_t size = ipc::Channel::size_needed();
  void* shared = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (shared == MAP_FAILED) die("cannot map the channel");
  close(fd);
  auto channel = ipc::Channel::attach(shared, size, false);
  if (!channel) die(channel.error().message);
  return std::move(*channel);
}

RemotePlatform::Options platform_options(const Args& args) {
  RemotePlatform::Options options;
  options.spin_ns = args.optimisations.streamlined_crossing ? options.spin_ns : 0;
  options.posted_dma = args.optimisations.dma_pretranslation;
  options.arena_bytes = args.arena_bytes;
  return options;
}

// From now on, log lines (and start-up errors) go to the supervisor through the event ring.
void log_to_supervisor(RemotePlatform& platform, size_t max_line) {
  set_log_sink([&platform, max_line](LogLevel level, std::string_view line) {
    line = line.substr(0, max_line);
    platform.send<ipc::Log>({static_cast<uint32_t>(level)}, bytes(line));
  });
  g_report_error = [](const std::string& message) { logf(LogLevel::kError, "%s", message.c_str()); };
}

// Every file the domain will ever read, read now from its descriptor: the kernel-API layer and Module.symvers
// by name, the module images by module name.
struct HandedFiles {
  std::map<std::string, std::string> files;
  std::map<std::string, std::string> modules;
};

HandedFiles read_handed_files(const Args& args) {
  HandedFiles h;
  h.files["kapi"] = read_all(args.kapi_fd);
  h.files["symvers"] = read_all(args.symvers_fd);
  for (auto& [name, fd] : args.modules) h.modules[normalize_module_name(name)] = read_all(fd);
  return h;
}

DomainConfig domain_config(const Args& args, const HandedFiles& handed, ipc::Channel& channel) {
  DomainConfig config;
  config.kapi_path = "kapi";
  config.symvers_path = "symvers";
  config.arena_bytes = args.arena_bytes;
  config.arena_fd = args.arena_fd;
  config.virtual_time = !args.real_time;
  config.optimisations = args.optimisations;
  config.read_file = [&handed](const std::string& path) -> Result<std::string> {
    auto it = handed.files.find(path);
    if (it == handed.files.end()) return make_error(path + ": not handed to the domain");
    return it->second;
  };
  config.open_module = [&handed](const std::string& name) -> Result<loader::ElfFile> {
    auto it = handed.modules.find(normalize_module_name(name));
    if (it == handed.modules.end()) return make_error(name + ": not handed to the domain");
    return loader::ElfFile::parse(std::vector<uint8_t>(it->second.begin(), it->second.end()), name + ".ko");
  };
  // Every load passes through the sandbox first (idempotent): the module images are only bytes until then.
  config.before_driver_code = [] { return sandbox::enter(); };
  config.softirq_doorbell = &channel.header().softirq_bell;
  config.busy_since_ns = channel.header().busy_since_ns;
  // Frames the supervisor queued for transmission: vCPU 1 hands them to the driver from the ring itself.
  config.tx_ring = &channel.tx();
  return config;
}

// On vCPU 1 before each round: interrupt lines the supervisor raised. (The supervisor's heartbeat is answered by
// taking it.) The frames it queued are not taken here: the domain transmits them from the ring (DomainConfig::tx_ring).
void take_raised_irqs(ipc::Channel& channel, Domain& domain) {
  uint64_t irqs = channel.header().irq_pending.exchange(0) & ~(uint64_t{1} << ipc::kIrqHeartbeat);
  for (uint32_t irq = 0; irqs; ++irq, irqs >>= 1) {
    if (irqs & 1) domain.raise_irq(irq);
  }
}

// The sandbox goes up (the domain's own memory is mapped and its threads run), then the modules load, before any
// module image is parsed, relocated, given its parameters or initialised. Dependencies come first (the last module
// is the driver); each gets the parameters only if it is the driver. "" or what went wrong.
std::string load_modules(Domain& domain, const Args& args) {
  if (auto s = sandbox::enter(); !s) return "cannot enter the sandbox: " + s.error().message;
  for (size_t i = 0; i < args.modules.size(); ++i) {
    const bool driver = i + 1 == args.modules.size();
    auto m = domain.load({args.modules[i].first, driver ? args.params : "", args.allow_missing});
    if (!m) return m.error().message;
  }
  return {};
}

// After the modules are loaded, the files they came from (the kernel-API layer alone is ~14 MB with its debug
// information) and the kernel ABI's tables are dead weight, and given back to the kernel: a domain's private memory
// is torn down when it dies, before its death can be seen (pidfd), so every megabyte left delays a restart.
void release_loader_memory(Domain& domain, HandedFiles& handed) {
  handed = HandedFiles{};
  domain.forget_abi();
  malloc_trim(0);
}

void announce(RemotePlatform& platform, bool ok, const std::string& text) {
  const ipc::Ready::Args ready{SIDE_IPC_VERSION, static_cast<uint32_t>(getpid()), ok ? 0 : -1};
  platform.send<ipc::Ready>(ready, bytes(std::string_view(text).substr(0, ipc::kMaxText)));
}

// Sends the supervisor each fault the domain recorded since the last call.
class FaultForwarder {
 public:
  FaultForwarder(Domain& domain, RemotePlatform& platform) : domain_(domain), platform_(platform) {}
  void operator()() {
    auto faults = domain_.faults();
    for (; sent_ < faults.size(); ++sent_) {
      const FaultReport& f = faults[sent_];
      std::string text = f.message.substr(0, 700) + '\0' + f.location.substr(0, 200) + '\0';
      platform_.send<ipc::Fault>({static_cast<uint32_t>(f.kind), f.address}, bytes(text));
    }
  }

 private:
  Domain& domain_;
  RemotePlatform& platform_;
  size_t sent_ = 0;
};

// vCPU 0: the supervisor's requests (control_server.h) until it says shut down or the ring breaks; faults are
// forwarded as they appear, and what the domain counted is refreshed at least every 10 ms and before each reply.
void serve_requests(Domain& domain, ipc::Channel& channel, RemotePlatform& platform, FaultForwarder& forward_faults) {
  ipc::Doorbell bell(&channel.header().control_bell);
  std::vector<uint8_t> payload(ipc::kControlRing.slot_size);
  for (;;) {
    forward_faults();
    auto counters = domain.counters();
    counters.shadow_reads = platform.shadow_reads();
    counters.publish(channel.header().counters);
    side_msg req{};
    long n = channel.control().pop(req, payload);
    if (n < 0) {
      if (channel.control().broken()) break;
      bell.wait(0, 10'000'000);
      continue;
    }
    if (req.type == SIDE_MSG_SHUTDOWN) break;
    const auto answer = serve_control(domain, req, std::span(payload.data(), static_cast<size_t>(n)));
    platform.reply(req.cookie, answer);
  }
}

}  // namespace

int run_domain_process(const std::vector<std::string>& argv) {
  auto parsed = parse_domain_args(argv);
  if (!parsed) {
    std::fprintf(stderr, "side: __domain: %s\n", parsed.error().message.c_str());
    return 2;
  }
  const Args& args = *parsed;
  ipc::Channel channel = map_channel(args.channel_fd);
  RemotePlatform platform(channel, platform_options(args));
  log_to_supervisor(platform, channel.events().max_payload());
  HandedFiles handed = read_handed_files(args);
  DomainConfig config = domain_config(args, handed, channel);
  // vCPU 1 starts inside Domain::create and may run a round before create returns: until the domain is known, a
  // round has nothing to hand it.
  std::atomic<Domain*> domain_ptr{nullptr};
  config.on_softirq_round = [&] {
    if (Domain* d = domain_ptr.load(std::memory_order_acquire)) take_raised_irqs(channel, *d);
  };

  auto created = Domain::create(config);
  if (!created) {
    announce(platform, false, "cannot create the domain: " + created.error().message);
    return 1;
  }
  Domain& domain = **created;
  domain_ptr.store(&domain, std::memory_order_release);
  domain.set_platform(&platform);
  const std::string error = load_modules(domain, args);
  release_loader_memory(domain, handed);
  FaultForwarder forward_faults(domain, platform);
  forward_faults();
  announce(platform, error.empty(), error.empty() ? args.modules.back().first : error);
  serve_requests(domain, channel, platform, forward_faults);
  domain.shutdown();
  std::_Exit(0);
}

}  // namespace side::domain
