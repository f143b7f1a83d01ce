#include "session/nic_session.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common/log.h"
#include "net/netns.h"
#include "session/session_domain.h"
#include "session/shell_command.h"
#include "sfi/runtime.h"
#include "supervisor/device_choice.h"
#include "supervisor/domain_process.h"
#include "supervisor/machine.h"

namespace side::session {
using host::HostInterface;
using host::Wire;
using host::WireCounters;
using supervisor::device_for_module;
using supervisor::DriverDomain;
using supervisor::Machine;
using supervisor::NetListener;
using supervisor::RecoverableDomain;
namespace {

using clock = std::chrono::steady_clock;

double ms_since(clock::time_point t) {
  return std::chrono::duration<double, std::milli>(clock::now() - t).count();
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

// Whether `every` has passed since `last` (which then becomes now).
bool due(clock::time_point& last, clock::duration every) {
  const auto now = clock::now();
  if (now - last < every) return false;
  last = now;
  return true;
}

// The line of counters `side run` prints every second while the network runs.
void print_live_counters(double elapsed, const std::string& ifname, HostInterface& host, Wire* wire) {
  const auto h = host.counters();
  const WireCounters wc = wire ? wire->counters() : WireCounters{};
  std::fprintf(stderr,
               "side: [%5.1f s] %s: host->driver %llu, driver->host %llu; wire: out %llu, in %llu (%llu dropped)\n",
               elapsed, ifname.c_str(), static_cast<unsigned long long>(h.to_driver),
               static_cast<unsigned long long>(h.from_driver), static_cast<unsigned long long>(wc.to_wire),
               static_cast<unsigned long long>(wc.from_wire), static_cast<unsigned long long>(wc.nic_dropped));
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
    // Each deliberate crash hits a running driver: the interval counts from the end of the last restart, however
    // long a loaded machine takes over it (a kill during a restart would test something else, and fail it).
    if (domain.recovering()) last_crash = clock::now();
    if (config.crash_every_s > 0 && crashes < config.crashes &&
        due(last_crash,
            std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(config.crash_every_s)))) {
      ++crashes;
      if (auto s = domain.kill(); !s) logf(LogLevel::kError, "side: %s", s.error().message.c_str());
    }
    if (due(last_status, NicSessionConfig::kStatusInterval)) publish(SessionState::kRunning);
    if (due(last_mirror, std::chrono::milliseconds(250))) mirror_host_config(host, domain, config.network.ifname);
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
    if (n.live && due(last_print, std::chrono::seconds(1))) print_live_counters(elapsed, n.ifname, host, wire);
  }
  publish(SessionState::kStopping);
  if (config.crash_every_s > 0 && crashes < config.crashes && error.empty())
    logf(LogLevel::kWarning, "side: the run ended after %u of the %u crashes asked for", crashes, config.crashes);
  stop_child(exec_pid);
  stop_child(peer_pid);
  return error;
}

// One session, step by step. Members are declared in the order they must outlive each other: the domain outlives
// the machine it is connected to, which outlives the host side and the wire built on its NIC.
class NicSession {
 public:
  explicit NicSession(const NicSessionConfig& config) : config_(config), net_(config.network) {
    report_.supervisor_pid = static_cast<int>(getpid());
  }
  NicSessionReport run();

 private:
  std::string open_network();
  std::string open_wire_tap();
  std::string start_domain();
  std::string load_and_bind();
  std::string connect_host_side();
  void route_to(NetListener* host_side);
  std::string address_interfaces();
  std::string bring_up_and_run();
  std::string run_host_network();
  std::string run_builtin_traffic();
  std::string close_remove_unload(std::string error);
  NicSessionReport finish(std::string error);
  SessionHandles handles() {
    return SessionHandles{*domain_, recoverable_, *machine_, dev_, *peer_, report_.peer_namespace};
  }

  const NicSessionConfig& config_;
  const NicSessionConfig::Network& net_;
  NicSessionReport report_;
  // The network, created first: a name that is taken, or missing privileges, fail before any driver runs.
  std::optional<net::NetNamespace> peer_ns_;
  std::optional<net::Tap> host_tap_, wire_tap_;
  std::unique_ptr<net::PcapWriter> pcap_;
  std::unique_ptr<DriverDomain> domain_;
  RecoverableDomain* recoverable_ = nullptr;  // domain_, when it recovers
  Relay relay_;
  std::unique_ptr<Machine> machine_;
  std::unique_ptr<HostInterface> host_;
  std::unique_ptr<Wire> wire_;
  uint32_t dev_ = 0;
  net::Nic* nic_ = nullptr;
  uint64_t pdev_ = 0;
  uint64_t token_ = 0;
  side_netdev_info netdev_info_{};  // the network device the driver registered, as it was after probe
  std::unique_ptr<TrafficPeer> peer_;
};

std::string NicSession::open_network() {
  if (!config_.pcap.empty()) {
    auto p = net::PcapWriter::create(config_.pcap);
    if (!p) return p.error().message;
    pcap_ = std::move(*p);
  }
  if (!net_.enabled) return {};
  if (!net::have_net_admin()) {
    return "creating network interfaces needs CAP_NET_ADMIN: run as root (sudo), or inside a user and network "
           "namespace (unshare -rn)";
  }
  if (auto e = open_wire_tap(); !e.empty()) return e;
  // With a virtio-net header: the host hands over checksums and TCP segments as the driver's features allow.
  auto h = net::Tap::create(net_.ifname, "", true);
  if (!h) return "host interface: " + h.error().message + " (is another side using " + net_.ifname + "?)";
  host_tap_.emplace(std::move(*h));
  return {};
}

// The wire: "peer0" in a fresh peer namespace, or a TAP given as NAME or NAME@NETNS, or none.
std::string NicSession::open_wire_tap() {
  std::string wire_name = net_.wire_tap, wire_ns;
  if (net_.create_peer) {
    auto ns = net::NetNamespace::create_owned("side-peer");
    if (!ns) return "cannot create the peer namespace: " + ns.error().message;
    peer_ns_.emplace(std::move(*ns));
    report_.peer_namespace = peer_ns_->name();
    wire_name = "peer0";
    wire_ns = peer_ns_->name();
  } else if (auto at = wire_name.find('@'); at != std::string::npos) {
    wire_ns = wire_name.substr(at + 1);
    wire_name = wire_name.substr(0, at);
  }
  if (wire_name.empty()) return {};
  auto w = net::Tap::create(wire_name, wire_ns);
  if (!w) return "wire: " + w.error().message;
  wire_tap_.emplace(std::move(*w));
  return {};
}

// The domain, in-process or in a domain process (recovering or not), and the machine it is connected to.
std::string NicSession::start_domain() {
  SessionDomainConfig c;
  c.isolation = config_.isolation;
  c.domain = config_.domain;
  c.load = {config_.module, config_.params, config_.allow_missing};
  c.recover = config_.recover;
  c.policy = config_.policy;
  c.executable = config_.executable;
  auto d = start_session_domain(c);
  if (!d) return d.error().message;
  domain_ = std::move(d->domain);
  recoverable_ = d->recoverable;
  machine_ = std::move(d->machine);
  report_.domain_pid = domain_->pid();
  machine_->set_listener(&relay_);
  return {};
}

// Loads the driver, plugs in the device its PCI id table asks for and probes it: the driver must register a
// network device.
std::string NicSession::load_and_bind() {
  auto t = clock::now();
  auto loaded = domain_->load({config_.module, config_.params, config_.allow_missing});
  report_.load_ms = ms_since(t);
  if (!loaded) return loaded.error().message;
  report_.driver = *loaded;

  auto model = device_for_module(config_.domain.modules_dir, config_.module, config_.device);
  if (!model) return model.error().message;
  devices::DeviceOptions device_options;
  device_options.mac = config_.mac;
  device_options.qemu_binary = config_.qemu_binary;
  auto dev = machine_->add_device(**model, device_options);
  if (!dev) return "cannot add the emulated " + (*model)->name + ": " + dev.error().message;
  dev_ = *dev;
  report_.device = pci_name(machine_->info(dev_));
  nic_ = machine_->nic(dev_);
  if (!nic_) return "the emulated " + (*model)->name + " is not a network device";

  t = clock::now();
  auto pdev = domain_->probe(dev_);
  report_.probe_ms = ms_since(t);
  if (!pdev) return pdev.error().message;
  pdev_ = *pdev;
  auto netdev = machine_->netdev_of_device(dev_);
  if (!netdev) {
    (void)domain_->remove(pdev_);
    return report_.driver + " bound the device but registered no network device";
  }
  report_.netdev = netdev->info.name;
  std::copy(std::begin(netdev->info.mac), std::end(netdev->info.mac), report_.mac.begin());
  token_ = netdev->info.token;
  netdev_info_ = netdev->info;
  return {};
}

// Where the NIC's frames go: the wire (and capture), and the host side: the host interface in network mode, else
// the built-in traffic peer.
std::string NicSession::connect_host_side() {
  peer_ = std::make_unique<TrafficPeer>(*domain_, *nic_, token_, report_.mac);
  if (wire_tap_ || pcap_) wire_ = std::make_unique<Wire>(*nic_, std::move(wire_tap_), std::move(pcap_));
  Wire* w = wire_.get();
  if (net_.enabled) {
    nic_->set_frame_sink([w](std::span<const uint8_t> f) {
      if (w) w->from_nic(f);
    });
    host_ = std::make_unique<HostInterface>(*domain_, std::move(*host_tap_));
    host_->start(netdev_info_);
    host_->mirror().mtu = netdev_info_.mtu;
    std::memcpy(host_->mirror().mac.data(), netdev_info_.mac, 6);
    route_to(host_.get());
    // The carrier as it stands: the driver reported it before this interface existed (register_netdev; virtio_net
    // reads its link from the device's config during probe), and a driver without link detection (8390's ne2k-pci)
    // never changes it: on from registration, as in the kernel.
    if (auto n = machine_->netdev_of_device(dev_); n && n->info.token == token_) host_->carrier(token_, n->carrier);
    if (auto e = address_interfaces(); !e.empty()) {
      (void)domain_->remove(pdev_);
      return e;
    }
  } else {
    TrafficPeer* peer = peer_.get();
    nic_->set_frame_sink([peer, w](std::span<const uint8_t> f) {
      if (w) w->from_nic(f);
      peer->on_wire_frame(f);
    });
    route_to(peer);
  }
  if (wire_) wire_->start();
  return {};
}

// The host side hears the machine's network events through the relay, and takes received frames straight from the
// domain's data path (DriverDomain::set_frame_receiver: no hops through the machine and the relay).
void NicSession::route_to(NetListener* host_side) {
  relay_.target = host_side;
  domain_->set_frame_receiver(host_side);
}

// Addresses: the host end and, in a namespace side created, the peer end.
std::string NicSession::address_interfaces() {
  Status addressed = net::ip({"addr", "add", net_.host_addr, "dev", net_.ifname});
  if (addressed) addressed = net::ip({"link", "set", net_.ifname, "up"});
  if (addressed && peer_ns_) addressed = peer_ns_->ip({"addr", "add", net_.peer_addr, "dev", "peer0"});
  if (addressed && peer_ns_) addressed = peer_ns_->ip({"link", "set", "peer0", "up"});
  return addressed ? std::string() : addressed.error().message;
}

// Open, wait for link, the workload of the mode, close.
std::string NicSession::bring_up_and_run() {
  auto t = clock::now();
  auto opened = domain_->open(token_);
  report_.open_ms = ms_since(t);
  if (!opened) return "open: " + opened.error().message;
  std::string error;
  t = clock::now();
  if (!machine_->wait_for_carrier(dev_, config_.link_timeout_ms)) {
    error = domain_->faulty() ? "driver fault while waiting for link" : "no link within the timeout";
  }
  report_.link_ms = ms_since(t);
  if (error.empty()) {
    if (auto e = domain_->ethtool(token_)) report_.ethtool = *e;
    error = net_.enabled ? run_host_network() : run_builtin_traffic();
  }
  t = clock::now();
  if (auto s = domain_->close(token_); !s && error.empty()) error = "close: " + s.error().message;
  report_.close_ms = ms_since(t);
  // As the driver last updated them (some only from a watchdog, every two seconds).
  if (auto s = domain_->stats(token_)) report_.driver_stats = *s;
  return error;
}

std::string NicSession::run_host_network() {
  std::atomic<bool> workload_stop{false};
  std::thread workload;
  if (config_.network_workload) {
    workload = std::thread([&] { config_.network_workload(handles(), workload_stop); });
  }
  // What `side status` and a service manager see (src/service), taken here, on the session's thread.
  auto publish = [&](SessionState state) {
    if (config_.on_status) {
      config_.on_status(observe_session(config_, report_, *domain_, recoverable_, host_.get(), wire_.get(), state));
    }
  };
  std::string error = run_network(config_, *domain_, *host_, wire_.get(), report_, publish);
  workload_stop = true;
  if (workload.joinable()) workload.join();
  return error;
}

std::string NicSession::run_builtin_traffic() {
  TrafficConfig traffic = config_.traffic;
  if (Wire* w = wire_.get()) traffic.on_inject = [w](std::span<const uint8_t> f) { w->capture(f); };
  bool killed = false;
  if (config_.kill_after_s > 0 || config_.kill_after_frames > 0) {
    auto user_tick = traffic.on_tick;
    traffic.on_tick = [&, user_tick](double elapsed, const TrafficResult& so_far) {
      const bool due =
          (config_.kill_after_s > 0 && elapsed >= config_.kill_after_s) ||
          (config_.kill_after_frames > 0 && so_far.tx.verified + so_far.rx.verified >= config_.kill_after_frames);
      if (!killed && due) {
        killed = true;
        if (auto s = domain_->kill(); !s) logf(LogLevel::kError, "side: %s", s.error().message.c_str());
      }
      if (user_tick) user_tick(elapsed, so_far);
    };
  }
  std::atomic<bool> workload_done{false};
  std::thread workload;
  if (config_.workload) {
    traffic.stop = &workload_done;
    traffic.duration_s = 0;
    traffic.packets = 0;
    workload = std::thread([&] {
      config_.workload(handles());
      workload_done = true;
    });
  }
  report_.traffic = peer_->run(traffic);
  std::string error;
  if (workload.joinable()) {
    if (!workload_done) error = "traffic ended before the workload";
    workload.join();
  }
  if (report_.traffic.domain_faulted) return "driver fault during traffic";
  if (report_.traffic.stalled) return "traffic stalled";
  return error;
}

std::string NicSession::close_remove_unload(std::string error) {
  auto t = clock::now();
  if (auto s = domain_->remove(pdev_); !s && error.empty()) error = "remove: " + s.error().message;
  report_.remove_ms = ms_since(t);
  if (auto s = domain_->unload(report_.driver); !s && error.empty()) error = "unload: " + s.error().message;
  route_to(nullptr);
  nic_->set_frame_sink(nullptr);
  return error;
}

// Stops everything and collects what each layer counted.
NicSessionReport NicSession::finish(std::string error) {
  if (report_.error.empty()) report_.error = std::move(error);
  if (!domain_) return report_;
  // Nothing runs in the domain any more before the machine goes away.
  domain_->shutdown();
  route_to(nullptr);
  if (host_) {
    host_->stop();
    report_.host = host_->counters();
  }
  if (wire_) {
    wire_->stop();
    report_.wire = wire_->counters();
  }
  report_.faults = domain_->faults();
  report_.counters = domain_->counters();
  report_.crossings = domain_->crossings();
  if (const sfi::Runtime* sfi = sfi::Runtime::active()) {
    const auto& t = sfi->translation();
    report_.sfi = NicSessionReport::SfiCounts{t.write_sites, t.indirect_branches, t.returns, sfi->checks_failed()};
  }
  if (recoverable_) {
    report_.recoveries = recoverable_->recoveries();
    report_.gave_up = recoverable_->gave_up();
    report_.give_up_message = recoverable_->give_up_message();
  }
  if (machine_ && machine_->device_count()) {
    if (net::Nic* nic = machine_->nic(0)) report_.nic = nic->nic_counters();
    report_.device_counters = machine_->device(0).model_counters();
    report_.iommu = machine_->iommu(0).counters();
    report_.dma_mappings_after_remove = machine_->dma(0).live_mappings();
  }
  return report_;
}

NicSessionReport NicSession::run() {
  if (auto e = open_network(); !e.empty()) {
    report_.error = e;
    return report_;
  }
  if (auto e = start_domain(); !e.empty()) {
    report_.error = e;
    return report_;
  }
  if (auto e = load_and_bind(); !e.empty()) return finish(e);
  if (auto e = connect_host_side(); !e.empty()) return finish(e);
  return finish(close_remove_unload(bring_up_and_run()));
}

}  // namespace

NicSessionReport run_nic_session(const NicSessionConfig& config) {
  return NicSession(config).run();
}

}  // namespace side::session
