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
#include "cli/run_disk.h"
#include "cli/run_report.h"
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
               "                       inproc: inside side's own process (the unisolated baseline);\n"
               "                       sfi: inside side's own process, every write, indirect branch and return\n"
               "                       of the driver checked, its system calls refused; faults restart it\n"
               "  --device DEV         builtin: side's own model (default: the first model the driver's PCI id\n"
               "                       table matches, else QEMU's, skipping a revision its probe refuses: 8139too\n"
               "                       gets qemu:rtl8139-8139c); qemu:MODEL: QEMU's model served over vfio-user\n"
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
               "  --direction D        tx (host -> driver -> wire), rx (wire -> driver -> host) or both\n"
               "                       (default); one direction is what side bench measures\n"
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
               "disk drivers (virtio_blk on qemu:virtio-blk-pci, nvme on qemu:nvme):\n"
               "  --disk FILE          the raw image behind the disk (created, 64 MiB, if missing; default: a\n"
               "                       temporary image, removed at exit)\n"
               "  --fuse PATH          the disk as the regular file PATH (FUSE): mkfs, mount -o loop, dd, fio\n"
               "  --nbd SOCKET|PORT    the disk as an NBD export on a Unix socket, or a TCP port on 127.0.0.1\n"
               "  --verify             write patterned blocks at varied places and sizes, read them back, count\n"
               "                       the blocks verified; with an export, it serves afterwards (--exec,\n"
               "                       --duration, or until SIGINT/SIGTERM)\n"
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
      print_run_report(configs[0], reports[0], isolation, &j);
    } else {
      j.field("module", base.module).field("isolation", isolation).field("ok", all_ok);
      j.key("instances").array_begin();
      for (unsigned i = 0; i < instances; ++i) {
        j.object_begin();
        print_run_report(configs[i], reports[i], isolation, &j);
        j.object_end();
      }
      j.array_end();
    }
    j.object_end();
    std::printf("%s\n", j.str().c_str());
  } else {
    for (unsigned i = 0; i < instances; ++i) print_run_report(configs[i], reports[i], isolation, nullptr);
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

// Built-in traffic when asked for (or when several instances share this process); otherwise real interfaces.
bool wants_builtin_traffic(const RunArgs& args) {
  return args.builtin || args.packets || args.frame_size || args.request_response || args.instances > 1 ||
         args.kill_after > 0 || args.direction != "both";
}

// The host interface, its peer and what runs there.
void configure_network(const RunArgs& args, session::NicSessionConfig::Network& n) {
  n.enabled = true;
  n.ifname = args.ifname;
  n.wire_tap = args.wire_tap;
  n.create_peer = args.wire_tap.empty();
  n.host_addr = args.host_addr;
  n.peer_addr = args.peer_addr;
  n.peer_exec = args.peer_exec;
  n.duration_s = args.duration;
  n.stop = &g_stop;
  n.live = !args.json && !args.quiet;
  n.exec = args.exec;
  if (!args.exec.empty() && args.duration > 0) n.exec = "timeout " + std::to_string(args.duration) + " " + args.exec;
  install_stop_handler();
}

// Deliberate crashes (--crash-every, --kill-after): each one is restarted, however close together (a few spare for
// real faults).
void configure_crashes(const RunArgs& args, session::NicSessionConfig& session) {
  session.crash_every_s = args.crash_every;
  session.crashes = args.crash_every > 0 ? args.crashes : 0;
  if (session.crashes) session.policy = supervisor::RecoveryPolicy::for_deliberate_faults(session.crashes + 5);
  session.kill_after_s = args.kill_after;
}

// What one session is to do, from the command line; 0, or the exit status of a refusal.
int configure_session(const RunArgs& args, const domain::DomainConfig& config, const std::string& device,
                      session::NicSessionConfig& session) {
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
  session.isolation = args.isolation;
  session.module = args.module;
  session.params = args.params;
  session.allow_missing = args.allow_missing;
  session.traffic.packets = args.packets ? args.packets : (args.duration > 0 ? 0 : 1000);
  session.traffic.duration_s = args.duration;
  session.traffic.frame_size = args.frame_size;
  session.traffic.transmit = args.direction != "rx";
  session.traffic.receive = args.direction != "tx";
  session.traffic.request_response = args.request_response;
  session.pcap = args.pcap;
  if (!wants_builtin_traffic(args)) configure_network(args, session.network);
  configure_crashes(args, session);
  if (args.inject_every > 0 && wants_builtin_traffic(args)) {  // --packets & co. ask for the built-in wire
    std::fprintf(stderr, "side run: --inject-every needs the host interface, not the built-in traffic\n");
    return 2;
  }
  return 0;
}

// --inject-every: a fault of every kind in turn, on purpose: every restart they cause is allowed.
void configure_soak(double inject_every, session::TimedFaults& soak, session::NicSessionConfig& session) {
  session.policy = supervisor::RecoveryPolicy::for_deliberate_faults(1'000'000);
  session.network_workload = [&soak, inject_every](const session::SessionHandles& h, const std::atomic<bool>& stop) {
    session::run_soak(h, inject_every, stop, soak);
  };
}

// The driver on its device, with traffic: the sessions' exit status.
int run_on_device(const RunArgs& args, const domain::DomainConfig& config, const std::string& device) {
  session::NicSessionConfig session;
  if (int refused = configure_session(args, config, device, session)) return refused;
  const bool builtin = wants_builtin_traffic(args);
  session::TimedFaults soak;
  if (args.inject_every > 0) configure_soak(args.inject_every, soak, session);
  // Service mode (src/service): readiness for a service manager, and the control socket `side status` asks.
  std::unique_ptr<service::ServiceEndpoint> endpoint;
  if (!builtin) {
    endpoint = service::ServiceEndpoint::start();
    session.on_status = [e = endpoint.get()](const session::SessionStatus& s) { e->on_status(s); };
  }
  // Built-in traffic of one instance can run long (--packets, --duration): a progress line on a terminal.
  ProgressLine progress("side run", builtin && args.instances == 1 && ProgressLine::wanted(args.quiet));
  // (Only then: the traffic loop calls it about every millisecond.)
  if (progress.enabled()) session.traffic.on_tick = traffic_progress(session.traffic, progress);
  int status = run_nic(session, static_cast<unsigned>(args.instances), args.isolation, args.json, progress);
  if (args.inject_every > 0 && (soak.not_recovered.load() || !soak.injected.load())) {
    std::fprintf(stderr, "side run: %llu of %llu faults not recovered%s%s\n",
                 static_cast<unsigned long long>(soak.not_recovered.load()),
                 static_cast<unsigned long long>(soak.injected.load()),
                 soak.last_failure.empty() ? "" : "; last: ", soak.last_failure.c_str());
    if (status == 0) status = 1;
  }
  return status;
}

// The PCI drivers a module registered (with their id tables), what it loaded and its faults, as JSON.
void print_loaded_json(const RunArgs& args, domain::Domain& d, const Result<const loader::LoadedModule*>& loaded) {
  const auto faults = d.faults();
  Json j;
  j.object_begin().field("schema", kRunSchema);
  j.field("module", args.module).field("isolation", args.isolation).field("loaded", static_cast<bool>(loaded));
  j.field("ok", loaded && faults.empty());
  if (!loaded) j.field("error", loaded.error().message);
  j.key("modules").array_begin();
  for (const auto* m : d.modules()) j.value(m->name);
  j.array_end();
  j.key("pci_drivers").array_begin();
  for (const auto& drv : d.pci_drivers()) {
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
}

void print_loaded_text(domain::Domain& d) {
  for (const auto& drv : d.pci_drivers()) {
    std::printf("registered PCI driver '%s' (module %s) for %zu device ids:", drv.name.c_str(), drv.module.c_str(),
                drv.ids.size());
    for (size_t i = 0; i < drv.ids.size() && i < 8; ++i) {
      std::printf(" %04x:%04x", drv.ids[i].vendor & 0xffff, drv.ids[i].device & 0xffff);
    }
    std::printf("%s\n", drv.ids.size() > 8 ? " ..." : "");
  }
}

// Only loads the module, in this process (--isolation inproc), and reports the PCI drivers it registered.
int load_in_this_process(const RunArgs& args, const domain::DomainConfig& config) {
  auto d = domain::Domain::create(config);
  if (!d) {
    std::fprintf(stderr, "side: cannot create a driver domain: %s\n", d.error().message.c_str());
    return 1;
  }
  auto loaded = (*d)->load({args.module, args.params, args.allow_missing});
  if (!loaded) std::fprintf(stderr, "side: %s\n", loaded.error().message.c_str());
  if (args.json)
    print_loaded_json(args, **d, loaded);
  else
    print_loaded_text(**d);
  return loaded && (*d)->faults().empty() ? 0 : 1;
}

domain::DomainConfig domain_config(const RunArgs& args, const Paths& paths) {
  domain::DomainConfig config;
  config.kapi_path = paths.kapi;
  config.symvers_path = paths.symvers;
  config.modules_dir = paths.modules_dir;
  config.arena_bytes = args.arena_mb << 20;
  config.virtual_time = !args.real_time;
  config.optimisations = args.optimisations;
  config.sfi = args.isolation == "sfi";
  return config;
}

}  // namespace

int run_command(const RunArgs& args) {
  // The driver's log goes to stderr (stdout carries --json).
  if (args.quiet) set_log_threshold(LogLevel::kError);
  const Paths paths = Paths::from_environment();
  const domain::DomainConfig config = domain_config(args, paths);
  std::string device;
  const DeviceFit fit = args.load_only
                            ? DeviceFit::kLoadOnly
                            : fit_device(paths.modules_dir, args.module, args.device, args.quiet || args.json, &device);
  if (fit == DeviceFit::kMismatch) return 2;
  const bool disk_options =
      !args.disk.empty() || !args.fuse.empty() || !args.nbd_socket.empty() || args.nbd_port || args.verify;
  if (fit == DeviceFit::kDevice && is_disk_device(device)) return run_disk(args, config, device);
  if (disk_options) {
    std::fprintf(stderr, "side run: --disk, --fuse, --nbd and --verify are for disk drivers (%s drives no disk)\n",
                 args.module.c_str());
    return 2;
  }
  if (fit == DeviceFit::kDevice) return run_on_device(args, config, device);
  if (args.isolation == "process") {
    return load_in_process(config, {args.module, args.params, args.allow_missing}, args.json);
  }
  return load_in_this_process(args, config);
}

}  // namespace side::cli
