// side run MODULE [PARAM=VALUE ...] [options]: loads a driver into a domain and reports what it did.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "cli/json.h"
#include "cli/progress.h"
#include "common/log.h"
#include "common/strings.h"
#include "devices/vfio_user/qemu_binary.h"
#include "domain/domain.h"
#include "ipc/optimisations.h"
#include "service/service_endpoint.h"
#include "session/fault_campaign.h"
#include "session/nic_session.h"
#include "supervisor/device_choice.h"
#include "supervisor/domain_process.h"

namespace side::cli {

void run_usage(FILE* out) {
  std::fprintf(out,
               "usage: side run MODULE [PARAM=VALUE ...] [options]\n"
               "  --isolation MODE     process (default): the driver runs in its own sandboxed process;\n"
               "                       inproc: inside side's own process (the unisolated baseline)\n"
               "  --device DEV         builtin: side's own model (default: the first model the driver's PCI id\n"
               "                       table matches, else QEMU's); qemu:MODEL: QEMU's model served over vfio-user\n"
               "                       by a QEMU process side starts (qemu:e1000, qemu:rtl8139, ...; built on first\n"
               "                       use)\n"
               "network (the default): the driver's device appears on the host as a TAP interface\n"
               "  --ifname NAME        the host interface (default side0)\n"
               "  --wire tap:NAME[@NETNS]  the NIC's cable: a TAP in an existing network namespace (default: a new\n"
               "                       namespace side-peer-PID with TAP peer0, addressed as below)\n"
               "  --wire pcap:FILE     also capture every frame on the wire (tcpdump/tshark can read it)\n"
               "  --host-addr A/N, --peer-addr A/N  addresses of the two ends (default 10.77.0.1/24, 10.77.0.2/24)\n"
               "  --exec CMD           run CMD on the host while the driver is up; side stops when it exits\n"
               "  --peer-exec CMD      run CMD in the peer namespace first (a server, say)\n"
               "  --duration S         run S seconds (Ctrl-C stops earlier); with --exec, a limit\n"
               "                       neither: run as a service until SIGINT/SIGTERM, telling systemd when the\n"
               "                       driver is up (NOTIFY_SOCKET); `side status` shows it while it runs\n"
               "  --crash-every S      kill the driver's domain S seconds after each (re)start (--crashes N times,\n"
               "                       default 10): side restarts it, and the host's connections carry on\n"
               "  --inject-every S     inject a fault every S seconds, every kind in turn (side inject's kinds), and\n"
               "                       report faults recovered and the supervisor's resources (scripts/soak.sh)\n"
               "built-in traffic (--wire builtin, or any of these options):\n"
               "  --packets N          frames to send each way through the driver (default 1000)\n"
               "  --duration S         send for S seconds instead\n"
               "  --frame-size N       frame size without FCS, 60..1514 (default: sizes vary over the range)\n"
               "  --request-response   one exchange at a time: a request in, the host's answer out; --packets\n"
               "                       counts round trips, timed (min, p50, p90, p99, max, mean)\n"
               "  --instances N        N driver instances at once, each on its own NIC in its own domain\n"
               "  --kill-after S       kill the first instance's domain (SIGKILL) S seconds into the traffic\n"
               "  --load-only          only load the module and report the PCI drivers it registers\n"
               "  --allow-missing      load even if the module imports kernel symbols side does not implement;\n"
               "                       calling one is then a detected driver fault naming the symbol\n"
               "  --real-time          driver delays wait in real time (default: virtual time)\n"
               "  --arena-mb N         DMA-able memory of the domain (default 64)\n"
               "  --disable LIST       switch optimisations off (comma-separated): streamlined (crossings\n"
               "                       poll before sleeping), batched (transmit batches), pretranslation\n"
               "                       (DMA mappings posted, not awaited)\n"
               "  --json               print a JSON summary on stdout\n"
               "  --quiet              do not print the driver's log\n");
}

namespace {

// Which device the driver runs on. A module whose PCI id table names no device side has (emulated or over
// vfio-user) is only loaded (said on stderr); a device the user named that does not fit the driver is an error:
// running the driver without it is not what was asked.
enum class DeviceFit { kLoadOnly, kDevice, kMismatch };

// `*device` becomes what the session is to bind: the --device choice, or the QEMU model chosen for the driver.
DeviceFit fit_device(const std::string& modules_dir, const std::string& module, const std::string& choice, bool quiet,
                     std::string* device) {
  *device = choice;
  auto ids = supervisor::pci_ids_of_module(modules_dir, module);
  if (!ids) return DeviceFit::kLoadOnly;  // the load reports what is wrong with the file
  auto model = supervisor::choose_device(module, *ids, choice);
  if (model && choice.empty() && (*model)->name.starts_with("qemu:")) {
    *device = (*model)->name;
    if (!quiet) {
      std::fprintf(stderr, "side: no built-in model matches %s's PCI id table: it gets %s, %s\n", module.c_str(),
                   (*model)->name.c_str(), (*model)->description.c_str());
    }
  }
  if (model) return DeviceFit::kDevice;
  if (!choice.empty()) {
    std::fprintf(stderr, "side: %s\n", model.error().message.c_str());
    return DeviceFit::kMismatch;
  }
  if (!quiet) std::fprintf(stderr, "side: %s; loading it only\n", model.error().message.c_str());
  return DeviceFit::kLoadOnly;
}

std::string mac_string(const std::array<uint8_t, 6>& mac) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return buf;
}

void print_direction(const char* name, const session::DirectionResult& d, double seconds) {
  std::printf("  %-3s sent %llu, verified %llu, lost %llu, corrupt %llu, out of order %llu, resubmitted %llu", name,
              static_cast<unsigned long long>(d.sent), static_cast<unsigned long long>(d.verified),
              static_cast<unsigned long long>(d.lost), static_cast<unsigned long long>(d.corrupt),
              static_cast<unsigned long long>(d.out_of_order), static_cast<unsigned long long>(d.retries));
  if (seconds > 0) {
    std::printf("; %.0f frames/s, %.1f Mbit/s", static_cast<double>(d.verified) / seconds,
                static_cast<double>(d.bytes) * 8 / seconds / 1e6);
  }
  std::printf("\n");
}

// A session that failed before its driver registered a network device has nothing to report but why: one line
// (the counters and the MAC would all be zero). A driver that came up and then failed is reported in full.
bool came_up(const session::NicSessionReport& r) {
  return r.error.empty() || !r.netdev.empty();
}

// Writes one session's report: fields of an open JSON object, or text.
void report(const session::NicSessionConfig& config, const session::NicSessionReport& r, const std::string& isolation,
            Json* json) {
  const auto& t = r.traffic;
  if (!came_up(r)) {
    std::fprintf(stderr, "side: %s\n", r.error.c_str());
    if (json) {
      json->field("module", config.module).field("isolation", isolation).field("supervisor_pid", r.supervisor_pid);
      json->field("ok", false).field("error", r.error).field("gave_up", r.gave_up);
    }
    return;
  }
  if (json) {
    Json& j = *json;
    j.field("module", config.module).field("device", r.device).field("isolation", isolation);
    j.field("domain_pid", r.domain_pid).field("supervisor_pid", r.supervisor_pid);
    j.field("netdev", r.netdev).field("mac", mac_string(r.mac)).field("ok", r.ok());
    if (!r.error.empty()) j.field("error", r.error);
    j.field("gave_up", r.gave_up);
    if (r.gave_up) j.field("give_up", r.give_up_message);
    j.field("tx_packets", t.tx.verified).field("rx_packets", t.rx.verified);
    j.field("tx_errors", t.tx.corrupt + t.tx.out_of_order).field("rx_errors", t.rx.corrupt + t.rx.out_of_order);
    j.field("verified_packets", t.tx.verified + t.rx.verified);
    j.field("tx_sent", t.tx.sent).field("rx_sent", t.rx.sent);
    j.field("tx_bytes", t.tx.bytes).field("rx_bytes", t.rx.bytes);
    j.field("elapsed_s", t.elapsed_s);
    j.field("faults", static_cast<uint64_t>(r.faults.size()));
    j.key("fault_reports").array_begin();
    for (const auto& f : r.faults) {
      j.object_begin().field("kind", f.kind_name).field("message", f.message).field("location", f.location);
      j.object_end();
    }
    j.array_end();
    j.key("recoveries").array_begin();
    for (const auto& rec : r.recoveries) {
      j.object_begin().field("fault", domain::fault_kind_name(rec.kind)).field("ok", rec.ok);
      j.field("total_ms", rec.total_ms).field("mark_ms", rec.mark_ms).field("stop_ms", rec.stop_ms);
      j.field("wait_ms", rec.wait_ms).field("free_ms", rec.free_ms).field("unregister_ms", rec.unregister_ms);
      j.field("reload_ms", rec.reload_ms).field("restart_ms", rec.restart_ms).field("requeued", rec.requeued);
      j.object_end();
    }
    j.array_end();
    j.field("tx_lost", t.tx.lost).field("rx_lost", t.rx.lost);
    if (config.traffic.request_response) {
      const auto& l = t.latency;
      j.key("latency_us").object_begin().field("samples", l.samples).field("min", l.min_us).field("p50", l.p50_us);
      j.field("p90", l.p90_us).field("p99", l.p99_us).field("max", l.max_us).field("mean", l.mean_us);
      j.field("lost", t.exchanges_lost).object_end();
    }
    j.key("timings_ms").object_begin().field("load", r.load_ms).field("probe", r.probe_ms).field("open", r.open_ms);
    j.field("link", r.link_ms).field("close", r.close_ms).field("remove", r.remove_ms).object_end();
    j.key("driver_stats").object_begin();
    j.field("rx_packets", uint64_t{r.driver_stats.rx_packets}).field("tx_packets", uint64_t{r.driver_stats.tx_packets});
    j.field("rx_errors", uint64_t{r.driver_stats.rx_errors}).field("tx_errors", uint64_t{r.driver_stats.tx_errors});
    j.field("rx_missed_errors", uint64_t{r.driver_stats.rx_missed_errors}).object_end();
    j.key("device_counters").object_begin().field("tx_frames", r.nic.tx_frames).field("rx_frames", r.nic.rx_frames);
    j.field("rx_dropped_no_descriptors", r.nic.rx_dropped_no_descriptors).field("iommu_faults", r.nic.iommu_faults);
    j.field("irq_assertions", r.nic.irq_assertions).field("irq_throttled", r.nic.irq_throttled).object_end();
    j.key("iommu").object_begin().field("faults", r.iommu.faults).field("map_calls", r.iommu.map_calls);
    j.field("unmap_calls", r.iommu.unmap_calls).field("mappings_after_remove", r.dma_mappings_after_remove);
    j.object_end();
    if (config.network.enabled) {
      j.key("host").object_begin().field("ifname", config.network.ifname).field("to_driver", r.host.to_driver);
      j.field("from_driver", r.host.from_driver).field("dropped_oversize", r.host.dropped_oversize);
      j.field("dropped_stalled", r.host.dropped_stalled).field("refused_changes", r.host.refused_changes).object_end();
      j.field("peer_namespace", r.peer_namespace).field("exec_status", r.exec_status);
    }
    if (config.network.enabled || !config.pcap.empty()) {
      j.key("wire").object_begin().field("out", r.wire.to_wire).field("in", r.wire.from_wire);
      j.field("nic_dropped", r.wire.nic_dropped).field("captured", r.wire.captured).object_end();
    }
    if (r.ethtool) {
      const auto& e = *r.ethtool;
      j.key("ethtool").object_begin().field("driver", std::string(e.driver)).field("version", std::string(e.version));
      j.field("bus_info", std::string(e.bus_info)).field("link", e.link != 0).field("speed", uint64_t{e.speed});
      j.field("duplex", e.duplex == 1 ? "full" : e.duplex == 0 ? "half" : "unknown").field("autoneg", e.autoneg != 0);
      j.field("rx_ring", uint64_t{e.rx_pending}).field("tx_ring", uint64_t{e.tx_pending}).object_end();
    }
    if (r.counters) {
      const auto& c = *r.counters;
      j.key("interrupts").object_begin().field("delivered", c.irqs_delivered).field("handled", c.irqs_handled);
      j.object_end();
      j.key("device_accesses")
          .object_begin()
          .field("trapped", c.traps)
          .field("via_rewritten_sites", c.patched_accesses);
      j.field("sites_rewritten", c.sites_patched).field("sites_left_trapping", c.sites_refused).object_end();
    }

  } else {
    std::printf("%s: %s on %s (%s, %s), isolation %s (domain pid %d, supervisor pid %d)\n", config.module.c_str(),
                r.netdev.empty() ? "-" : r.netdev.c_str(), r.device.c_str(), mac_string(r.mac).c_str(),
                r.driver.c_str(), isolation.c_str(), r.domain_pid, r.supervisor_pid);
    std::printf("  load %.2f ms, probe %.2f ms, open %.2f ms, link %.1f ms, close %.2f ms, remove %.2f ms\n", r.load_ms,
                r.probe_ms, r.open_ms, r.link_ms, r.close_ms, r.remove_ms);
    if (r.ethtool) {
      const auto& e = *r.ethtool;
      std::printf("  ethtool: driver %s %s, bus %s, link %s, %u Mb/s %s duplex, autoneg %s, rings rx %u/%u tx %u/%u\n",
                  e.driver, e.version, e.bus_info, e.link ? "up" : "down", e.speed,
                  e.duplex == 1   ? "full"
                  : e.duplex == 0 ? "half"
                                  : "unknown",
                  e.autoneg ? "on" : "off", e.rx_pending, e.rx_max_pending, e.tx_pending, e.tx_max_pending);
    }
    if (config.network.enabled) {
      std::printf(
          "  host %s: %llu frames to the driver, %llu from it; wire: %llu out, %llu in (%llu refused by the "
          "NIC)%s%s\n",
          config.network.ifname.c_str(), static_cast<unsigned long long>(r.host.to_driver),
          static_cast<unsigned long long>(r.host.from_driver), static_cast<unsigned long long>(r.wire.to_wire),
          static_cast<unsigned long long>(r.wire.from_wire), static_cast<unsigned long long>(r.wire.nic_dropped),
          r.peer_namespace.empty() ? "" : "; peer namespace ", r.peer_namespace.c_str());
      if (!config.network.exec.empty()) std::printf("  command exit status %d\n", r.exec_status);
    } else {
      print_direction("tx", t.tx, t.elapsed_s);
      print_direction("rx", t.rx, t.elapsed_s);
      if (config.traffic.request_response) {
        const auto& l = t.latency;
        std::printf("  round trips %llu (%llu lost), us: min %.1f, p50 %.1f, p90 %.1f, p99 %.1f, max %.1f, mean %.1f\n",
                    static_cast<unsigned long long>(l.samples), static_cast<unsigned long long>(t.exchanges_lost),
                    l.min_us, l.p50_us, l.p90_us, l.p99_us, l.max_us, l.mean_us);
      }
    }
    if (!config.pcap.empty()) {
      std::printf("  captured %llu frames into %s\n", static_cast<unsigned long long>(r.wire.captured),
                  config.pcap.c_str());
    }
    std::printf("  driver: rx %llu tx %llu packets, rx errors %llu, tx errors %llu, missed %llu\n",
                static_cast<unsigned long long>(r.driver_stats.rx_packets),
                static_cast<unsigned long long>(r.driver_stats.tx_packets),
                static_cast<unsigned long long>(r.driver_stats.rx_errors),
                static_cast<unsigned long long>(r.driver_stats.tx_errors),
                static_cast<unsigned long long>(r.driver_stats.rx_missed_errors));
    std::printf("  device: %llu interrupts (%llu throttled); IOMMU faults %llu; DMA mappings left after remove %llu\n",
                static_cast<unsigned long long>(r.nic.irq_assertions),
                static_cast<unsigned long long>(r.nic.irq_throttled), static_cast<unsigned long long>(r.iommu.faults),
                static_cast<unsigned long long>(r.dma_mappings_after_remove));
    if (r.counters) {
      const auto& c = *r.counters;
      std::printf(
          "  domain: %llu interrupts delivered to the driver, %llu handled; device accesses: %llu trapped, %llu "
          "through %llu rewritten sites (%llu sites left trapping)\n",
          static_cast<unsigned long long>(c.irqs_delivered), static_cast<unsigned long long>(c.irqs_handled),
          static_cast<unsigned long long>(c.traps), static_cast<unsigned long long>(c.patched_accesses),
          static_cast<unsigned long long>(c.sites_patched), static_cast<unsigned long long>(c.sites_refused));
    }
    for (const auto& rec : r.recoveries) {
      std::printf(
          "  restart after %s: %.1f ms (mark %.2f, stop %.2f, wait %.2f, free %.2f, unregister %.2f, reload "
          "%.1f, restart %.1f), %llu frames requeued%s%s\n",
          domain::fault_kind_name(rec.kind), rec.total_ms, rec.mark_ms, rec.stop_ms, rec.wait_ms, rec.free_ms,
          rec.unregister_ms, rec.reload_ms, rec.restart_ms, static_cast<unsigned long long>(rec.requeued),
          rec.ok ? "" : ", failed: ", rec.error.c_str());
    }
    for (const auto& f : r.faults) {
      std::printf("  fault: %s: %s%s%s\n", f.kind_name.c_str(), f.message.c_str(), f.location.empty() ? "" : " at ",
                  f.location.c_str());
    }
    if (!r.error.empty()) std::fprintf(stderr, "side: %s\n", r.error.c_str());
    if (r.gave_up) std::fprintf(stderr, "side: %s\n", r.give_up_message.c_str());
  }
}

bool session_ok(const session::NicSessionReport& r, const session::NicSessionConfig& c) {
  if (c.network.enabled && !c.network.exec.empty() && r.exec_status != 0) return false;
  return r.ok() && r.traffic.errors() == 0;
}

// Runs `instances` sessions at once, each with its own domain and emulated NIC (a distinct MAC address).
int run_nic(const session::NicSessionConfig& base, unsigned instances, const std::string& isolation, bool json,
            ProgressLine& progress) {
  std::vector<session::NicSessionConfig> configs(instances, base);
  std::vector<session::NicSessionReport> reports(instances);
  for (unsigned i = 0; i < instances; ++i) {
    configs[i].mac[5] = static_cast<uint8_t>(base.mac[5] + i);
    if (i > 0) configs[i].kill_after_s = 0;  // --kill-after affects the first instance only
  }
  if (instances == 1) {
    reports[0] = session::run_nic_session(configs[0]);
  } else {
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < instances; ++i) {
      threads.emplace_back([&, i] { reports[i] = session::run_nic_session(configs[i]); });
    }
    for (auto& t : threads) t.join();
  }
  progress.finish();
  bool all_ok = true;
  for (unsigned i = 0; i < instances; ++i) all_ok &= session_ok(reports[i], configs[i]);
  if (json) {
    Json j;
    j.object_begin().field("schema", kRunSchema);
    if (instances == 1) {
      report(configs[0], reports[0], isolation, &j);
    } else {
      j.field("module", base.module).field("isolation", isolation).field("ok", all_ok);
      j.key("instances").array_begin();
      for (unsigned i = 0; i < instances; ++i) {
        j.object_begin();
        report(configs[i], reports[i], isolation, &j);
        j.object_end();
      }
      j.array_end();
    }
    j.object_end();
    std::printf("%s\n", j.str().c_str());
  } else {
    for (unsigned i = 0; i < instances; ++i) report(configs[i], reports[i], isolation, nullptr);
  }
  // A killed instance is expected to fail; the run succeeds when every other one is clean.
  bool others_ok = true;
  for (unsigned i = 0; i < instances; ++i) {
    if (!(i == 0 && base.kill_after_s > 0)) others_ok &= session_ok(reports[i], configs[i]);
  }
  // A driver side gave up on is its own outcome (exit status 3): restarting it did not help.
  for (const auto& r : reports) {
    if (r.gave_up) return 3;
  }
  return others_ok ? 0 : 1;
}

// Loads a module into a domain process and reports whether its init succeeded.
int load_in_process(const domain::DomainConfig& config, const domain::LoadRequest& request, bool json) {
  supervisor::DomainProcessConfig pc;
  pc.kapi_path = config.kapi_path;
  pc.symvers_path = config.symvers_path;
  pc.modules_dir = config.modules_dir;
  pc.arena_bytes = config.arena_bytes;
  pc.virtual_time = config.virtual_time;
  auto d = supervisor::DomainProcess::start(pc, request);
  std::vector<domain::FaultReport> faults;
  if (d) faults = (*d)->faults();
  if (json) {
    Json j;
    j.object_begin().field("schema", kRunSchema).field("module", request.module).field("isolation", "process");
    j.field("loaded", static_cast<bool>(d)).field("ok", d && faults.empty());
    if (d) j.field("domain_pid", (*d)->pid());
    if (!d) j.field("error", d.error().message);
    j.field("faults", static_cast<uint64_t>(faults.size())).object_end();
    std::printf("%s\n", j.str().c_str());
  } else if (d) {
    std::printf("loaded %s in domain process %d\n", request.module.c_str(), (*d)->pid());
  } else {
    std::fprintf(stderr, "side: %s\n", d.error().message.c_str());
  }
  return d && faults.empty() ? 0 : 1;
}

// The built-in traffic's progress: frames sent of those asked for each way, or seconds of the duration.
std::function<void(double, const session::TrafficResult&)> traffic_progress(const session::TrafficConfig& t,
                                                                            ProgressLine& progress) {
  const uint64_t packets = t.packets;
  const double duration = t.duration_s;
  return [&progress, packets, duration](double elapsed, const session::TrafficResult& so_far) {
    const std::string step = std::to_string(so_far.tx.verified + so_far.rx.verified) + " frames verified";
    if (duration > 0) {
      progress.update(static_cast<uint64_t>(std::min(elapsed, duration)), static_cast<uint64_t>(std::ceil(duration)),
                      step + " (seconds)");
    } else if (packets > 0) {
      progress.update(std::min(so_far.tx.sent + so_far.rx.sent, 2 * packets), 2 * packets, step);
    }
  };
}

std::atomic<bool> g_stop{false};

// Ctrl-C and SIGTERM end the run cleanly: interfaces and namespaces are removed on the way out.
void install_stop_handler() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = true; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

int run_command(const RunArgs& args) {
  const std::string& module = args.module;
  const std::string& params = args.params;
  const std::string& isolation = args.isolation;
  const bool json = args.json, quiet = args.quiet, allow_missing = args.allow_missing;
  const uint64_t packets = args.packets, frame_size = args.frame_size, instances = args.instances;
  const double duration = args.duration, kill_after = args.kill_after, crash_every = args.crash_every;
  bool builtin = args.builtin;
  const std::string &exec = args.exec, &peer_addr = args.peer_addr;

  // The driver's log goes to stderr (stdout carries --json).
  if (quiet) set_log_threshold(LogLevel::kError);
  Paths paths = Paths::from_environment();
  domain::DomainConfig config;
  config.kapi_path = paths.kapi;
  config.symvers_path = paths.symvers;
  config.modules_dir = paths.modules_dir;
  config.arena_bytes = args.arena_mb << 20;
  config.virtual_time = !args.real_time;
  config.optimisations = args.optimisations;
  std::string device;
  const DeviceFit fit = args.load_only ? DeviceFit::kLoadOnly
                                       : fit_device(paths.modules_dir, module, args.device, quiet || json, &device);
  if (fit == DeviceFit::kMismatch) return 2;
  if (fit == DeviceFit::kDevice) {
    session::NicSessionConfig session;
    session.device = device;
    if (device.starts_with("qemu:")) {
      auto qemu = vfio_user::find_qemu(/*build=*/true);  // built on first use of a QEMU device
      if (!qemu) {
        std::fprintf(stderr, "side: %s\n", qemu.error().message.c_str());
        return 1;
      }
      session.qemu_binary = *qemu;
    }
    session.domain = config;
    session.isolation = isolation;
    session.module = module;
    session.params = params;
    session.allow_missing = allow_missing;
    // Built-in traffic when asked for (or when several instances share this process); otherwise real interfaces.
    builtin = builtin || packets || frame_size || args.request_response || instances > 1 || kill_after > 0;
    session.traffic.packets = packets ? packets : (duration > 0 ? 0 : 1000);
    session.traffic.duration_s = duration;
    session.traffic.frame_size = frame_size;
    session.traffic.request_response = args.request_response;
    session.pcap = args.pcap;
    if (!builtin) {
      auto& n = session.network;
      n.enabled = true;
      n.ifname = args.ifname;
      n.wire_tap = args.wire_tap;
      n.create_peer = args.wire_tap.empty();
      n.host_addr = args.host_addr;
      n.peer_addr = peer_addr;
      n.peer_exec = args.peer_exec;
      n.duration_s = duration;
      n.stop = &g_stop;
      n.live = !json && !quiet;
      n.exec = exec;
      if (!exec.empty() && duration > 0) n.exec = "timeout " + std::to_string(duration) + " " + exec;
      install_stop_handler();
    }
    session.crash_every_s = crash_every;
    session.crashes = crash_every > 0 ? args.crashes : 0;
    // The crashes are deliberate: each one is restarted, however close together (a few spare for real faults).
    if (session.crashes) session.policy = supervisor::RecoveryPolicy::for_deliberate_faults(session.crashes + 5);
    session.kill_after_s = kill_after;
    session::TimedFaults soak;
    const double inject_every = args.inject_every;
    if (inject_every > 0) {
      if (builtin) {  // --packets, --frame-size and --request-response ask for the built-in wire
        std::fprintf(stderr, "side run: --inject-every needs the host interface, not the built-in traffic\n");
        return 2;
      }
      // A fault of every kind in turn, on purpose: every restart they cause is allowed.
      session.policy = supervisor::RecoveryPolicy::for_deliberate_faults(1'000'000);
      session.network_workload = [&soak, inject_every](const session::SessionHandles& h,
                                                       const std::atomic<bool>& stop) {
        session::run_soak(h, inject_every, stop, soak);
      };
    }
    // Service mode (src/service): readiness for a service manager, and the control socket `side status` asks.
    std::unique_ptr<service::ServiceEndpoint> endpoint;
    if (!builtin) {
      endpoint = service::ServiceEndpoint::start();
      session.on_status = [e = endpoint.get()](const session::SessionStatus& s) { e->on_status(s); };
    }
    // Built-in traffic of one instance can run long (--packets, --duration): a progress line on a terminal.
    ProgressLine progress("side run", builtin && instances == 1 && ProgressLine::wanted(quiet));
    // (Only then: the traffic loop calls it about every millisecond.)
    if (progress.enabled()) session.traffic.on_tick = traffic_progress(session.traffic, progress);
    int status = run_nic(session, static_cast<unsigned>(instances), isolation, json, progress);
    if (inject_every > 0 && (soak.not_recovered.load() || !soak.injected.load())) {
      std::fprintf(stderr, "side run: %llu of %llu faults not recovered%s%s\n",
                   static_cast<unsigned long long>(soak.not_recovered.load()),
                   static_cast<unsigned long long>(soak.injected.load()),
                   soak.last_failure.empty() ? "" : "; last: ", soak.last_failure.c_str());
      if (status == 0) status = 1;
    }
    return status;
  }
  if (isolation == "process") return load_in_process(config, {module, params, allow_missing}, json);
  auto d = domain::Domain::create(config);
  if (!d) {
    std::fprintf(stderr, "side: cannot create a driver domain: %s\n", d.error().message.c_str());
    return 1;
  }
  auto loaded = (*d)->load({module, params, allow_missing});
  if (!loaded) std::fprintf(stderr, "side: %s\n", loaded.error().message.c_str());

  auto drivers = (*d)->pci_drivers();
  auto faults = (*d)->faults();
  if (json) {
    Json j;
    j.object_begin().field("schema", kRunSchema);
    j.field("module", module).field("isolation", isolation).field("loaded", static_cast<bool>(loaded));
    j.field("ok", loaded && faults.empty());
    if (!loaded) j.field("error", loaded.error().message);
    j.key("modules").array_begin();
    for (const auto* m : (*d)->modules()) j.value(m->name);
    j.array_end();
    j.key("pci_drivers").array_begin();
    for (const auto& drv : drivers) {
      j.object_begin().field("name", drv.name).field("module", drv.module).key("ids").array_begin();
      for (const auto& id : drv.ids) {
        j.object_begin().field("vendor", id.vendor).field("device", id.device).field("subvendor", id.subvendor);
        j.field("subdevice", id.subdevice).field("class", id.class_code).field("class_mask", id.class_mask);
        j.object_end();
      }
      j.array_end().object_end();
    }
    j.array_end();
    j.key("faults").array_begin();
    for (const auto& f : faults) {
      j.object_begin().field("kind", f.kind_name).field("message", f.message).field("location", f.location);
      j.object_end();
    }
    j.array_end();
    j.object_end();
    std::printf("%s\n", j.str().c_str());
  } else {
    for (const auto& drv : drivers) {
      std::printf("registered PCI driver '%s' (module %s) for %zu device ids:", drv.name.c_str(), drv.module.c_str(),
                  drv.ids.size());
      for (size_t i = 0; i < drv.ids.size() && i < 8; ++i) {
        std::printf(" %04x:%04x", drv.ids[i].vendor & 0xffff, drv.ids[i].device & 0xffff);
      }
      std::printf("%s\n", drv.ids.size() > 8 ? " ..." : "");
    }
  }
  return loaded && faults.empty() ? 0 : 1;
}

}  // namespace side::cli
