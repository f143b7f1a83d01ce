#include "session/nic_session.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/log.h"
#include "net/netns.h"
#include "supervisor/device_choice.h"
#include "supervisor/domain_process.h"
#include "supervisor/machine.h"

extern char** environ;

namespace side::supervisor {
namespace {

using clock = std::chrono::steady_clock;

double ms_since(clock::time_point t) {
  return std::chrono::duration<double, std::milli>(clock::now() - t).count();
}

std::string pci_name(const side_pci_device_info& info) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04x:%04x 0000:%02x:%02x.%x", info.vendor_id, info.device_id, info.bus,
                info.devfn >> 3, info.devfn & 7);
  return buf;
}

// Forwards the machine's network events to whoever is the host side once it exists (peer or host interface).
class Relay final : public NetListener {
 public:
  std::atomic<NetListener*> target{nullptr};
  void rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) override {
    if (auto* t = target.load()) t->rx(token, frame, csum);
  }
  void tx_wake(uint64_t token) override {
    if (auto* t = target.load()) t->tx_wake(token);
  }
  void carrier(uint64_t token, bool on) override {
    if (auto* t = target.load()) t->carrier(token, on);
  }
  void netdev_changed(const side_netdev_info& info) override {
    if (auto* t = target.load()) t->netdev_changed(info);
  }
};

// A command run through the shell, in the host's namespace or in a named one.
// `own_group`: the command gets a process group of its own (the peer's commands, which nobody types at), so that
// stopping it stops what its shell started too.
pid_t spawn_shell(const std::string& command, const std::string& netns, bool own_group) {
  std::vector<std::string> argv;
  if (!netns.empty()) argv = {"ip", "netns", "exec", netns};
  argv.insert(argv.end(), {"sh", "-c", command});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // The shell may leave children behind (the peer's `iperf3 -s` outlived every run before its group was stopped).
  posix_spawnattr_t attr;
  if (posix_spawnattr_init(&attr) != 0) return -1;
  if (own_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? pid : -1;
}

// Stops a command spawn_shell() started, and its process group if it has its own: SIGTERM, then SIGKILL after 1 s.
void stop_child(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  kill(-pid, SIGTERM);  // no such group (ESRCH) unless the command leads one
  bool reaped = false;
  for (int i = 0; i < 100 && !reaped; ++i) {
    reaped = waitpid(pid, nullptr, WNOHANG) == pid;
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid, SIGKILL);  // what is left of its group (the shell's children), whether or not the shell has exited
  if (!reaped) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

// What the host's stack sets on the interface (ip link set side0 mtu/address/promisc, multicast groups joined)
// reaches the driver, as the kernel's dev_set_* would hand it down.
void mirror_host_config(HostInterface& host, DriverDomain& domain, const std::string& ifname) {
  static constexpr uint32_t kPromisc = 0x100, kAllmulti = 0x200;  // IFF_PROMISC, IFF_ALLMULTI
  auto& m = host.mirror();
  const net::Tap& tap = host.tap();
  const uint64_t token = host.token();
  if (auto mtu = tap.mtu(); mtu && *mtu != m.mtu) {
    if (auto s = domain.set_mtu(token, *mtu); !s) {
      logf(LogLevel::kWarning, "side: %s: MTU %u: %s", ifname.c_str(), *mtu, s.error().message.c_str());
    }
    m.mtu = *mtu;
  }
  if (auto mac = tap.mac(); mac && *mac != m.mac) {
    if (auto s = domain.set_mac(token, *mac); !s) {
      logf(LogLevel::kWarning, "side: %s: address: %s", ifname.c_str(), s.error().message.c_str());
    }
    m.mac = *mac;
  }
  auto flags = tap.flags();
  uint32_t rx = flags ? ((*flags & kPromisc) ? SIDE_RX_PROMISC : 0) | ((*flags & kAllmulti) ? SIDE_RX_ALLMULTI : 0) : 0;
  auto mc = tap.multicast();
  if (mc.size() > 256) {
    mc.resize(0);
    rx |= SIDE_RX_ALLMULTI;  // more groups than a filter holds: all multicast, as the kernel falls back to
  }
  if (rx != m.rx_flags || mc != m.multicast) {
    if (auto s = domain.set_rx_mode(token, rx, mc); !s) {
      logf(LogLevel::kWarning, "side: %s: receive mode: %s", ifname.c_str(), s.error().message.c_str());
    }
    m.rx_flags = rx;
    m.multicast = mc;
  }
}

// The network workload: peer command, host command (or a duration, or until stopped), live counters.
std::string run_network(const NicSessionConfig& config, DriverDomain& domain, HostInterface& host, Wire* wire,
                        NicSessionReport& report, const std::function<void(SessionState)>& publish) {
  const auto& n = config.network;
  pid_t peer_pid = -1, exec_pid = -1;
  if (!n.peer_exec.empty()) {
    peer_pid = spawn_shell(n.peer_exec, report.peer_namespace, true);
    if (peer_pid < 0) return "cannot start the peer command";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let a server start listening
  }
  if (!n.exec.empty()) {
    exec_pid = spawn_shell(n.exec, "", false);
    if (exec_pid < 0) {
      stop_child(peer_pid);
      return "cannot start the command";
    }
  }
  const auto start = clock::now();
  auto last_print = start, last_mirror = start, last_crash = start, last_status = start;
  publish(SessionState::kRunning);
  unsigned crashes = 0;
  std::string error;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    if (config.crash_every_s > 0 && crashes < config.crashes &&
        std::chrono::duration<double>(clock::now() - last_crash).count() >= config.crash_every_s) {
      last_crash = clock::now();
      ++crashes;
      if (auto s = domain.kill(); !s) logf(LogLevel::kError, "side: %s", s.error().message.c_str());
    }
    if (clock::now() - last_status >= NicSessionConfig::kStatusInterval) {
      last_status = clock::now();
      publish(SessionState::kRunning);
    }
    if (clock::now() - last_mirror >= std::chrono::milliseconds(250)) {
      last_mirror = clock::now();
      mirror_host_config(host, domain, config.network.ifname);
    }
    if (exec_pid > 0) {
      int status = 0;
      if (waitpid(exec_pid, &status, WNOHANG) == exec_pid) {
        report.exec_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        exec_pid = -1;
        break;
      }
    } else if (n.duration_s > 0 && elapsed >= n.duration_s) {
      break;
    }
    if (n.stop && n.stop->load()) break;
    if (domain.faulty()) {
      error = "driver fault";
      break;
    }
    if (n.live && clock::now() - last_print >= std::chrono::seconds(1)) {
      last_print = clock::now();
      auto h = host.counters();
      WireCounters wc = wire ? wire->counters() : WireCounters{};
      std::fprintf(stderr,
                   "side: [%5.1f s] %s: host->driver %llu, driver->host %llu; wire: out %llu, in %llu (%llu dropped)\n",
                   elapsed, config.network.ifname.c_str(), static_cast<unsigned long long>(h.to_driver),
                   static_cast<unsigned long long>(h.from_driver), static_cast<unsigned long long>(wc.to_wire),
                   static_cast<unsigned long long>(wc.from_wire), static_cast<unsigned long long>(wc.nic_dropped));
    }
  }
  publish(SessionState::kStopping);
  stop_child(exec_pid);
  stop_child(peer_pid);
  return error;
}

}  // namespace

NicSessionReport run_nic_session(const NicSessionConfig& config) {
  NicSessionReport report;
  report.supervisor_pid = static_cast<int>(getpid());
  const auto& net_config = config.network;
  // The network first: a name that is taken, or missing privileges, fail before any driver runs.
  std::optional<net::NetNamespace> peer_ns;
  std::optional<net::Tap> host_tap, wire_tap;
  std::unique_ptr<net::PcapWriter> pcap;
  if (!config.pcap.empty()) {
    auto p = net::PcapWriter::create(config.pcap);
    if (!p) {
      report.error = p.error().message;
      return report;
    }
    pcap = std::move(*p);
  }
  if (net_config.enabled) {
    if (!net::have_net_admin()) {
      report.error =
          "creating network interfaces needs CAP_NET_ADMIN: run as root (sudo), or inside a user and "
          "network namespace (unshare -rn)";
      return report;
    }
    std::string wire_name = net_config.wire_tap, wire_ns;
    if (net_config.create_peer) {
      auto ns = net::NetNamespace::create("side-peer-" + std::to_string(getpid()));
      if (!ns) {
        report.error = "cannot create the peer namespace: " + ns.error().message;
        return report;
      }
      peer_ns.emplace(std::move(*ns));
      report.peer_namespace = peer_ns->name();
      wire_name = "peer0";
      wire_ns = peer_ns->name();
    } else if (auto at = wire_name.find('@'); at != std::string::npos) {
      wire_ns = wire_name.substr(at + 1);
      wire_name = wire_name.substr(0, at);
    }
    if (!wire_name.empty()) {
      auto w = net::Tap::create(wire_name, wire_ns);
      if (!w) {
        report.error = "wire: " + w.error().message;
        return report;
      }
      wire_tap.emplace(std::move(*w));
    }
    auto h = net::Tap::create(net_config.ifname);
    if (!h) {
      report.error = "host interface: " + h.error().message + " (is another side using " + net_config.ifname + "?)";
      return report;
    }
    host_tap.emplace(std::move(*h));
  }
  std::unique_ptr<DriverDomain> owned;
  RecoverableDomain* recoverable = nullptr;
  auto t = clock::now();
  if (config.isolation == "inproc") {
    auto d = InProcessDomain::create(config.domain);
    if (!d) {
      report.error = "cannot create a driver domain: " + d.error().message;
      return report;
    }
    owned = std::move(*d);
  } else if (config.isolation == "process") {
    DomainProcessConfig pc;
    pc.kapi_path = config.domain.kapi_path;
    pc.symvers_path = config.domain.symvers_path;
    pc.modules_dir = config.domain.modules_dir;
    pc.arena_bytes = config.domain.arena_bytes;
    pc.virtual_time = config.domain.virtual_time;
    pc.optimisations = config.domain.optimisations;
    pc.executable = config.executable;
    domain::LoadRequest request{config.module, config.params, config.allow_missing};
    if (config.recover) {
      auto d = RecoverableDomain::start(
          [pc, request](unsigned) -> Result<std::unique_ptr<DriverDomain>> {
            auto p = DomainProcess::start(pc, request);
            if (!p) return p.error();
            return std::unique_ptr<DriverDomain>(std::move(*p));
          },
          config.policy);
      if (!d) {
        report.error = "cannot start the domain process: " + d.error().message;
        return report;
      }
      recoverable = d->get();
      owned = std::move(*d);
    } else {
      auto d = DomainProcess::start(pc, request);
      if (!d) {
        report.error = "cannot start the domain process: " + d.error().message;
        return report;
      }
      owned = std::move(*d);
    }
  } else {
    report.error = "unknown isolation '" + config.isolation + "'";
    return report;
  }
  DriverDomain& domain = *owned;
  report.domain_pid = domain.pid();
  Relay relay;
  Machine machine(domain);
  if (recoverable) recoverable->set_machine(&machine);
  std::unique_ptr<HostInterface> host;
  std::unique_ptr<Wire> wire;
  domain.connect(&machine);
  machine.set_listener(&relay);
  auto finish = [&](std::string error) {
    if (report.error.empty()) report.error = std::move(error);
    // Nothing runs in the domain any more before the machine (declared after it) goes away.
    domain.shutdown();
    relay.target = nullptr;
    domain.set_frame_receiver(nullptr);
    if (host) {
      host->stop();
      report.host = host->counters();
    }
    if (wire) {
      wire->stop();
      report.wire = wire->counters();
    }
    report.faults = domain.faults();
    report.counters = domain.counters();
    if (recoverable) {
      report.recoveries = recoverable->recoveries();
      report.gave_up = recoverable->gave_up();
      report.give_up_message = recoverable->give_up_message();
    }
    if (machine.device_count()) {
      if (net::Nic* nic = machine.nic(0)) report.nic = nic->nic_counters();
      report.device_counters = machine.device(0).model_counters();
      report.iommu = machine.iommu(0).counters();
      report.dma_mappings_after_remove = machine.dma(0).live_mappings();
    }
    return report;
  };

  auto loaded = domain.load({config.module, config.params, config.allow_missing});
  report.load_ms = ms_since(t);
  if (!loaded) return finish(loaded.error().message);
  report.driver = *loaded;

  auto model = device_for_module(config.domain.modules_dir, config.module);
  if (!model) return finish(model.error().message);
  devices::DeviceOptions device_options;
  device_options.mac = config.mac;
  auto dev = machine.add_device(**model, device_options);
  if (!dev) return finish("cannot add the emulated " + (*model)->name + ": " + dev.error().message);
  report.device = pci_name(machine.info(*dev));
  net::Nic* nic = machine.nic(*dev);
  if (!nic) return finish("the emulated " + (*model)->name + " is not a network device");

  t = clock::now();
  auto pdev = domain.probe(*dev);
  report.probe_ms = ms_since(t);
  if (!pdev) return finish(pdev.error().message);
  auto netdev = machine.netdev_of_device(*dev);
  if (!netdev) {
    (void)domain.remove(*pdev);
    return finish(report.driver + " bound the device but registered no network device");
  }
  report.netdev = netdev->info.name;
  std::copy(std::begin(netdev->info.mac), std::end(netdev->info.mac), report.mac.begin());
  const uint64_t token = netdev->info.token;

  TrafficPeer peer(domain, *nic, token, report.mac);
  if (wire_tap || pcap) wire = std::make_unique<Wire>(*nic, std::move(wire_tap), std::move(pcap));
  Wire* w = wire.get();
  if (net_config.enabled) {
    nic->set_frame_sink([w](std::span<const uint8_t> f) {
      if (w) w->from_nic(f);
    });
    host = std::make_unique<HostInterface>(domain, std::move(*host_tap));
    host->start(netdev->info);
    host->mirror().mtu = netdev->info.mtu;
    std::memcpy(host->mirror().mac.data(), netdev->info.mac, 6);
    relay.target = host.get();
    domain.set_frame_receiver(host.get());  // received frames: from the data path to the TAP, not via the machine
    // Addresses: the host end and, in a namespace side created, the peer end.
    Status addressed = net::ip({"addr", "add", net_config.host_addr, "dev", net_config.ifname});
    if (addressed) addressed = net::ip({"link", "set", net_config.ifname, "up"});
    if (addressed && peer_ns) addressed = peer_ns->ip({"addr", "add", net_config.peer_addr, "dev", "peer0"});
    if (addressed && peer_ns) addressed = peer_ns->ip({"link", "set", "peer0", "up"});
    if (!addressed) {
      (void)domain.remove(*pdev);
      return finish(addressed.error().message);
    }
  } else {
    nic->set_frame_sink([&peer, w](std::span<const uint8_t> f) {
      if (w) w->from_nic(f);
      peer.on_wire_frame(f);
    });
    relay.target = &peer;
    domain.set_frame_receiver(&peer);
  }
  if (wire) wire->start();

  t = clock::now();
  auto opened = domain.open(token);
  report.open_ms = ms_since(t);
  std::string error;
  if (!opened) {
    error = "open: " + opened.error().message;
  } else {
    t = clock::now();
    if (!machine.wait_for_carrier(*dev, config.link_timeout_ms)) {
      error = domain.faulty() ? "driver fault while waiting for link" : "no link within the timeout";
    }
    report.link_ms = ms_since(t);
    if (error.empty()) {
      if (auto e = domain.ethtool(token)) report.ethtool = *e;
    }
    if (error.empty() && net_config.enabled) {
      std::atomic<bool> workload_stop{false};
      std::thread workload;
      if (config.network_workload) {
        workload = std::thread([&] {
          config.network_workload(SessionHandles{domain, recoverable, machine, *dev, peer}, workload_stop);
        });
      }
      // What `side status` and a service manager see (src/service), taken here, on the session's thread.
      auto publish = [&](SessionState state) {
        if (config.on_status)
          config.on_status(observe_session(config, report, domain, recoverable, host.get(), w, state));
      };
      error = run_network(config, domain, *host, w, report, publish);
      workload_stop = true;
      if (workload.joinable()) workload.join();
    } else if (error.empty()) {
      TrafficConfig traffic = config.traffic;
      if (w) traffic.on_inject = [w](std::span<const uint8_t> f) { w->capture(f); };
      bool killed = false;
      if (config.kill_after_s > 0) {
        auto user_tick = traffic.on_tick;
        traffic.on_tick = [&, user_tick](double elapsed, const TrafficResult& so_far) {
          if (!killed && elapsed >= config.kill_after_s) {
            killed = true;
            if (auto s = domain.kill(); !s) logf(LogLevel::kError, "side: %s", s.error().message.c_str());
          }
          if (user_tick) user_tick(elapsed, so_far);
        };
      }
      std::atomic<bool> workload_done{false};
      std::thread workload;
      if (config.workload) {
        traffic.stop = &workload_done;
        traffic.duration_s = 0;
        traffic.packets = 0;
        workload = std::thread([&] {
          config.workload(SessionHandles{domain, recoverable, machine, *dev, peer});
          workload_done = true;
        });
      }
      report.traffic = peer.run(traffic);
      if (workload.joinable()) {
        if (!workload_done) error = "traffic ended before the workload";
        workload.join();
      }
      if (report.traffic.domain_faulted)
        error = "driver fault during traffic";
      else if (report.traffic.stalled)
        error = "traffic stalled";
    }
    t = clock::now();
    if (auto s = domain.close(token); !s && error.empty()) error = "close: " + s.error().message;
    report.close_ms = ms_since(t);
    // As the driver last updated them (some only from a watchdog, every two seconds).
    if (auto s = domain.stats(token)) report.driver_stats = *s;
  }
  t = clock::now();
  if (auto s = domain.remove(*pdev); !s && error.empty()) error = "remove: " + s.error().message;
  report.remove_ms = ms_since(t);
  if (auto s = domain.unload(report.driver); !s && error.empty()) error = "unload: " + s.error().message;
  relay.target = nullptr;
  domain.set_frame_receiver(nullptr);
  nic->set_frame_sink(nullptr);
  return finish(error);
}

}  // namespace side::supervisor
