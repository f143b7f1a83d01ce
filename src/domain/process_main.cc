#include "domain/process_main.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

#include "common/log.h"
#include "common/strings.h"
#include "domain/domain.h"
#include "domain/remote_platform.h"
#include "ipc/channel.h"
#include "ipc/doorbell.h"
#include "ipc/optimisations.h"
#include "sandbox/sandbox.h"

namespace side::domain {
namespace {

struct Args {
  int channel_fd = -1, arena_fd = -1, kapi_fd = -1, symvers_fd = -1;
  uint64_t arena_bytes = 0;
  std::vector<std::pair<std::string, int>> modules;  // dependency order; the last is the driver
  std::string params;
  bool allow_missing = false, real_time = false;
  ipc::Optimisations optimisations;
};

// The domain holds no descriptor of the user's (its 0, 1 and 2 are /dev/null): once the channel is up, an early
// error goes through it as a log line; before that, the exit status alone tells the supervisor.
std::function<void(const std::string&)> g_report_error;

[[noreturn]] void die(const std::string& message) {
  if (g_report_error) g_report_error("side: domain start-up: " + message);
  std::_Exit(kExitStartupFailed);
}

Args parse(const std::vector<std::string>& a) {
  Args out;
  for (size_t i = 0; i < a.size(); ++i) {
    auto next = [&]() -> const std::string& {
      if (i + 1 >= a.size()) die("missing value for " + a[i]);
      return a[++i];
    };
    auto fd = [&] { return std::atoi(next().c_str()); };
    if (a[i] == "--channel")
      out.channel_fd = fd();
    else if (a[i] == "--arena")
      out.arena_fd = fd();
    else if (a[i] == "--arena-bytes")
      out.arena_bytes = std::strtoull(next().c_str(), nullptr, 10);
    else if (a[i] == "--kapi")
      out.kapi_fd = fd();
    else if (a[i] == "--symvers")
      out.symvers_fd = fd();
    else if (a[i] == "--params")
      out.params = next();
    else if (a[i] == "--allow-missing")
      out.allow_missing = true;
    else if (a[i] == "--real-time")
      out.real_time = true;
    else if (a[i] == "--disable") {
      if (!ipc::disable_optimisations(next(), out.optimisations)) die("--disable: unknown optimisation");
    } else if (a[i] == "--module") {
      const std::string& v = next();
      auto colon = v.rfind(':');
      if (colon == std::string::npos) die("--module NAME:FD");
      out.modules.emplace_back(v.substr(0, colon), std::atoi(v.c_str() + colon + 1));
    } else {
      die("unknown argument " + a[i]);
    }
  }
  if (out.channel_fd < 0 || out.arena_fd < 0 || out.kapi_fd < 0 || out.symvers_fd < 0 || out.modules.empty()) {
    die("needs --channel, --arena, --kapi, --symvers and --module");
  }
  return out;
}

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

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

int run_domain_process(const std::vector<std::string>& argv) {
  Args args = parse(argv);
  size_t channel_size = ipc::Channel::size_needed();
  void* shared = mmap(nullptr, channel_size, PROT_READ | PROT_WRITE, MAP_SHARED, args.channel_fd, 0);
  if (shared == MAP_FAILED) die("cannot map the channel");
  close(args.channel_fd);
  auto channel = ipc::Channel::attach(shared, channel_size, false);
  if (!channel) die(channel.error().message);
  RemotePlatform::Options platform_options;
  platform_options.spin_ns = args.optimisations.streamlined_crossing ? platform_options.spin_ns : 0;
  platform_options.posted_dma = args.optimisations.dma_pretranslation;
  platform_options.arena_bytes = args.arena_bytes;
  RemotePlatform platform(*channel, platform_options);
  const size_t max_line = channel->events().max_payload();
  set_log_sink([&platform, max_line](LogLevel level, std::string_view line) {
    side_msg m{};
    m.type = SIDE_MSG_LOG;
    m.arg[0] = static_cast<uint64_t>(level);
    line = line.substr(0, max_line);
    platform.send_event(m, std::span(reinterpret_cast<const uint8_t*>(line.data()), line.size()));
  });
  g_report_error = [](const std::string& message) { logf(LogLevel::kError, "%s", message.c_str()); };

  // Every file the domain will ever read is read now, from its descriptor.
  std::map<std::string, std::string> files;
  files["kapi"] = read_all(args.kapi_fd);
  files["symvers"] = read_all(args.symvers_fd);
  std::map<std::string, std::string> modules;
  for (auto& [name, fd] : args.modules) modules[normalize_module_name(name)] = read_all(fd);

  DomainConfig config;
  config.kapi_path = "kapi";
  config.symvers_path = "symvers";
  config.arena_bytes = args.arena_bytes;
  config.arena_fd = args.arena_fd;
  config.virtual_time = !args.real_time;
  config.optimisations = args.optimisations;
  config.read_file = [&files](const std::string& path) -> Result<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return make_error(path + ": not handed to the domain");
    return it->second;
  };
  config.open_module = [&modules](const std::string& name) -> Result<loader::ElfFile> {
    auto it = modules.find(normalize_module_name(name));
    if (it == modules.end()) return make_error(name + ": not handed to the domain");
    return loader::ElfFile::parse(std::vector<uint8_t>(it->second.begin(), it->second.end()), name + ".ko");
  };
  // Every load passes through the sandbox first (idempotent): the module images are only bytes until then.
  config.before_driver_code = [] { return sandbox::enter(); };
  config.softirq_doorbell = &channel->header().softirq_bell;
  config.busy_since_ns = channel->header().busy_since_ns;
  Domain* domain_ptr = nullptr;
  std::vector<uint8_t> frame(channel->tx().max_payload());
  config.on_softirq_round = [&] {
    // Interrupt lines the supervisor raised, and frames it queued for transmission.
    // (The supervisor's heartbeat is answered by taking it.)
    uint64_t irqs = channel->header().irq_pending.exchange(0) & ~(uint64_t{1} << ipc::kIrqHeartbeat);
    for (uint32_t irq = 0; irqs; ++irq, irqs >>= 1) {
      if (irqs & 1) domain_ptr->raise_irq(irq);
    }
    for (int i = 0; i < 256; ++i) {
      side_msg m{};
      long n = channel->tx().pop(m, frame);
      if (n < 0) break;
      if (m.type != SIDE_MSG_TX_FRAME) continue;
      if (!domain_ptr->submit_tx(m.arg[0], std::span(frame.data(), static_cast<size_t>(n)))) break;
    }
  };

  auto created = Domain::create(config);
  side_msg ready{};
  ready.type = SIDE_MSG_READY;
  ready.arg[0] = SIDE_IPC_VERSION;
  ready.arg[1] = static_cast<uint64_t>(getpid());
  if (!created) {
    ready.arg[2] = static_cast<uint64_t>(-1);
    platform.send_event(ready, bytes("cannot create the domain: " + created.error().message));
    return 1;
  }
  Domain& domain = **created;
  domain_ptr = &domain;
  domain.set_platform(&platform);
  // The domain's own memory is mapped and its threads run: the sandbox goes up now, before any module image is
  // parsed, relocated, given its parameters or initialised.
  std::string error;
  if (auto s = sandbox::enter(); !s) error = "cannot enter the sandbox: " + s.error().message;
  // Dependencies first (the last module is the driver); each gets the parameters only if it is the driver.
  for (size_t i = 0; i < args.modules.size() && error.empty(); ++i) {
    bool driver = i + 1 == args.modules.size();
    auto m = domain.load({args.modules[i].first, driver ? args.params : "", args.allow_missing});
    if (!m) error = m.error().message;
  }
  size_t faults_sent = 0;
  auto forward_faults = [&] {
    auto faults = domain.faults();
    for (; faults_sent < faults.size(); ++faults_sent) {
      const FaultReport& f = faults[faults_sent];
      side_msg m{};
      m.type = SIDE_MSG_FAULT;
      m.arg[0] = static_cast<uint64_t>(f.kind);
      m.arg[1] = f.address;
      std::string text = f.message.substr(0, 700) + '\0' + f.location.substr(0, 200) + '\0';
      platform.send_event(m, bytes(text));
    }
  };
  forward_faults();
  ready.arg[2] = error.empty() ? 0 : static_cast<uint64_t>(-1);
  platform.send_event(ready, bytes(error.empty() ? args.modules.back().first : error));

  // vCPU 0: the supervisor's requests; faults are forwarded as they appear.
  ipc::Doorbell bell(&channel->header().control_bell);
  std::vector<uint8_t> payload(ipc::kControlRing.slot_size);
  // What the domain counted, for the supervisor's reports: refreshed at least every 10 ms and before each reply.
  auto publish_counters = [&] {
    auto& c = channel->header().counters;
    const auto irqs = domain.irq_stats();
    const auto traps = domain.trap_stats();
    c[ipc::kCounterIrqsDelivered].store(irqs.delivered, std::memory_order_relaxed);
    c[ipc::kCounterIrqsHandled].store(irqs.handled, std::memory_order_relaxed);
    c[ipc::kCounterTraps].store(traps.traps_emulated, std::memory_order_relaxed);
    c[ipc::kCounterPatchedAccesses].store(traps.patched_accesses, std::memory_order_relaxed);
    c[ipc::kCounterSitesPatched].store(traps.sites_patched, std::memory_order_relaxed);
    c[ipc::kCounterSitesRefused].store(traps.sites_refused, std::memory_order_relaxed);
  };
  for (;;) {
    forward_faults();
    publish_counters();
    side_msg req{};
    long n = channel->control().pop(req, payload);
    if (n < 0) {
      if (channel->control().broken()) break;
      bell.wait(0, 10'000'000);
      continue;
    }
    auto ok = [&](const Status& s) {
      platform.reply(req.cookie, s ? 0 : -1, 0, s ? bytes("") : bytes(s.error().message));
    };
    switch (req.type) {
      case SIDE_MSG_ATTACH_DEVICE: {
        side_pci_device_info info{};
        if (n != sizeof info) {
          platform.reply(req.cookie, -1, 0, bytes("bad device description"));
          break;
        }
        std::memcpy(&info, payload.data(), sizeof info);
        ok(domain.attach_device(info));
        break;
      }
      case SIDE_MSG_PROBE: {
        auto r = domain.probe(static_cast<uint32_t>(req.arg[0]));
        if (r)
          platform.reply(req.cookie, 0, *r);
        else
          platform.reply(req.cookie, -1, 0, bytes(r.error().message));
        break;
      }
      case SIDE_MSG_REMOVE:
        ok(domain.remove(req.arg[0]));
        break;
      case SIDE_MSG_OPEN:
        ok(domain.open(req.arg[0]));
        break;
      case SIDE_MSG_CLOSE:
        ok(domain.close(req.arg[0]));
        break;
      case SIDE_MSG_STATS: {
        auto r = domain.stats(req.arg[0]);
        if (r)
          platform.reply(req.cookie, 0, 0, std::span(reinterpret_cast<const uint8_t*>(&*r), sizeof *r));
        else
          platform.reply(req.cookie, -1, 0, bytes(r.error().message));
        break;
      }
      case SIDE_MSG_SET_MTU:
        ok(domain.set_mtu(req.arg[0], static_cast<uint32_t>(req.arg[1])));
        break;
      case SIDE_MSG_SET_MAC: {
        std::array<uint8_t, 6> mac{};
        if (n != 6) {
          platform.reply(req.cookie, -1, 0, bytes("bad MAC address"));
          break;
        }
        std::memcpy(mac.data(), payload.data(), 6);
        ok(domain.set_mac(req.arg[0], mac));
        break;
      }
      case SIDE_MSG_SET_RX_MODE: {
        std::vector<std::array<uint8_t, 6>> mc(static_cast<size_t>(n) / 6);
        for (size_t i = 0; i < mc.size(); ++i) std::memcpy(mc[i].data(), payload.data() + 6 * i, 6);
        ok(domain.set_rx_mode(req.arg[0], static_cast<uint32_t>(req.arg[1]), mc));
        break;
      }
      case SIDE_MSG_ETHTOOL: {
        auto r = domain.ethtool(req.arg[0]);
        if (r)
          platform.reply(req.cookie, 0, 0, std::span(reinterpret_cast<const uint8_t*>(&*r), sizeof *r));
        else
          platform.reply(req.cookie, -1, 0, bytes(r.error().message));
        break;
      }
      case SIDE_MSG_INJECT: {
        auto r = domain.inject(static_cast<int>(req.arg[0]), req.arg[1]);
        if (r)
          platform.reply(req.cookie, 0, 0, bytes(*r));
        else
          platform.reply(req.cookie, -1, 0, bytes(r.error().message));
        break;
      }
      case SIDE_MSG_UNLOAD:
        ok(domain.unload(std::string(reinterpret_cast<const char*>(payload.data()), static_cast<size_t>(n))));
        break;
      case SIDE_MSG_SHUTDOWN:
        domain.shutdown();
        std::_Exit(0);
      default:
        platform.reply(req.cookie, -1, 0, bytes("unknown request"));
        break;
    }
  }
  domain.shutdown();
  std::_Exit(0);
}

}  // namespace side::domain
