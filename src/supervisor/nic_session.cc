#include "supervisor/nic_session.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "common/log.h"
#include "supervisor/domain_process.h"
#include "supervisor/machine.h"

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

// Forwards the machine's network events to the traffic peer once it exists.
class Relay final : public NetListener {
 public:
  TrafficPeer* peer = nullptr;
  void rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) override {
    if (peer) peer->rx(token, frame, csum);
  }
  void tx_wake(uint64_t token) override {
    if (peer) peer->tx_wake(token);
  }
};

}  // namespace

NicSessionReport run_nic_session(const NicSessionConfig& config) {
  NicSessionReport report;
  report.supervisor_pid = static_cast<int>(getpid());
  std::unique_ptr<DriverDomain> owned;
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
    pc.executable = config.executable;
    auto d = DomainProcess::start(pc, {config.module, config.params, config.allow_missing});
    if (!d) {
      report.error = "cannot start the domain process: " + d.error().message;
      return report;
    }
    owned = std::move(*d);
  } else {
    report.error = "unknown isolation '" + config.isolation + "'";
    return report;
  }
  DriverDomain& domain = *owned;
  report.domain_pid = domain.pid();
  Relay relay;
  Machine machine(domain);
  domain.connect(&machine);
  machine.set_listener(&relay);
  auto finish = [&](std::string error) {
    if (report.error.empty()) report.error = std::move(error);
    // Nothing runs in the domain any more before the machine (declared after it) goes away.
    domain.shutdown();
    report.faults = domain.faults();
    report.irqs = domain.irq_stats();
    if (machine.device_count()) {
      report.nic = machine.e1000(0).counters();
      report.iommu = machine.iommu(0).counters();
      report.dma_mappings_after_remove = machine.dma(0).live_mappings();
    }
    return report;
  };

  auto loaded = domain.load({config.module, config.params, config.allow_missing});
  report.load_ms = ms_since(t);
  if (!loaded) return finish(loaded.error().message);
  report.driver = *loaded;

  e1000::Config nic_config;
  nic_config.mac = config.mac;
  auto dev = machine.add_e1000(nic_config);
  if (!dev) return finish("cannot add the emulated NIC: " + dev.error().message);
  report.device = pci_name(machine.info(*dev));

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

  TrafficPeer peer(domain, machine.e1000(*dev), token, report.mac);
  machine.e1000(*dev).set_frame_sink([&peer](std::span<const uint8_t> f) { peer.on_wire_frame(f); });
  relay.peer = &peer;

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
      TrafficConfig traffic = config.traffic;
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
      report.traffic = peer.run(traffic);
      if (report.traffic.domain_faulted)
        error = "driver fault during traffic";
      else if (report.traffic.stalled)
        error = "traffic stalled";
    }
    t = clock::now();
    if (auto s = domain.close(token); !s && error.empty()) error = "close: " + s.error().message;
    report.close_ms = ms_since(t);
    // As the driver last updated them (e1000 does so from its watchdog, every two seconds).
    if (auto s = domain.stats(token)) report.driver_stats = *s;
  }
  t = clock::now();
  if (auto s = domain.remove(*pdev); !s && error.empty()) error = "remove: " + s.error().message;
  report.remove_ms = ms_since(t);
  if (auto s = domain.unload(report.driver); !s && error.empty()) error = "unload: " + s.error().message;
  relay.peer = nullptr;
  machine.e1000(*dev).set_frame_sink(nullptr);
  return finish(error);
}

}  // namespace side::supervisor
