// The no-driver relay's points of `side bench` (bench/frame_relay.h): the same traffic as a driver's point, with
// FrameRelay where the driver's domain and its NIC stand.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "bench/benchmark.h"
#include "bench/frame_relay.h"
#include "bench/process_cpu.h"
#include "common/counters.h"
#include "host/host_network.h"
#include "net/netns.h"
#include "net/tap.h"
#include "session/iperf3_report.h"
#include "session/shell_command.h"
#include "session/traffic_peer.h"

namespace side::bench {
namespace {

using clock = std::chrono::steady_clock;
const std::array<uint8_t, 6> kMac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

void sleep_s(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

// The traffic's window, on a thread of its own while the peer runs: warm-up, then the verified counts and this
// process's CPU time (the relay's thread is in it) over the window; ends the traffic.
void measure_window(const BenchOptions& o, session::TrafficPeer& peer, bool tx, ThroughputPoint& p,
                    std::atomic<bool>& done) {
  auto pick = [&](const session::TrafficResult& r) { return tx ? r.tx : r.rx; };
  sleep_s(o.warmup_s);
  const auto first = pick(peer.snapshot());
  const double cpu0 = process_cpu_s(getpid());
  const auto t0 = clock::now();
  sleep_s(o.window_s);
  const auto last = pick(peer.snapshot());
  const double cpu1 = process_cpu_s(getpid());
  p.seconds = std::chrono::duration<double>(clock::now() - t0).count();
  p.cpu_supervisor_s = cpu1 - cpu0;
  p.packets = counter_growth(first.verified, last.verified);
  p.bytes = counter_growth(first.bytes, last.bytes);
  if (cpu0 < 0 || cpu1 < 0) p.error = "cannot read the CPU time of a process";
  done = true;
}

// The host's TAP and the wire's TAP (in a fresh peer namespace), addressed and up, relayed by `relay`; then iperf3
// from the host to a server in the namespace. The error, or "" with `t` filled in.
std::string relay_iperf3(const BenchOptions& o, FrameRelay& relay, const net::NetNamespace& ns, net::Tap host_tap,
                         net::Tap wire_tap, TcpPoint& t) {
  host::Wire wire(relay, std::move(wire_tap), nullptr);
  host::HostInterface host(relay, std::move(host_tap));
  relay.set_frame_sink([&wire](std::span<const uint8_t> f) { wire.from_nic(f); });
  relay.set_frame_receiver(&host);
  side_netdev_info info{};
  info.token = FrameRelay::kToken;
  info.mtu = info.max_mtu = 1500;
  info.min_mtu = 68;
  std::copy(kMac.begin(), kMac.end(), info.mac);
  host.start(info);
  host.carrier(FrameRelay::kToken, true);  // the relay's "link" is always up
  wire.start();
  relay.start();
  std::string error;
  Status up = net::ip({"addr", "add", "10.77.0.1/24", "dev", "sidebench0"});
  if (up) up = net::ip({"link", "set", "sidebench0", "up"});
  if (up) up = ns.ip({"addr", "add", "10.77.0.2/24", "dev", "peer0"});
  if (up) up = ns.ip({"link", "set", "peer0", "up"});
  if (!up) error = up.error().message;
  pid_t server = error.empty() ? session::spawn_shell("exec iperf3 -s -1 >/dev/null", ns.name(), true) : -1;
  if (error.empty() && server < 0) error = "cannot start the iperf3 server";
  if (error.empty()) {
    sleep_s(0.3);  // let the server listen
    char cmd[128];
    std::snprintf(cmd, sizeof cmd, "exec iperf3 -c 10.77.0.2 -t %g -J", o.tcp_seconds);
    auto run = session::run_shell(cmd, "", o.tcp_seconds + 20);
    auto parsed = session::parse_iperf3_report(run.output);
    if (run.status != 0) error = "iperf3 exited with status " + std::to_string(run.status);
    if (error.empty() && !parsed) error = parsed.error().message;
    if (error.empty()) {
      t.sender_gbps = parsed->sender_gbps;
      t.receiver_gbps = parsed->receiver_gbps;
      t.retransmits = parsed->retransmits;
      t.host_cpu_percent = parsed->host_cpu_percent;
    }
  }
  session::stop_child(server);
  relay.stop();
  relay.set_frame_receiver(nullptr);
  host.stop();
  wire.stop();
  return error;
}

}  // namespace

ThroughputPoint measure_relay_throughput(const BenchOptions& o, const std::string& direction, size_t frame_size) {
  ThroughputPoint p;
  p.isolation = "relay";
  p.direction = direction;
  p.frame_size = frame_size;
  FrameRelay relay(kMac);
  session::TrafficPeer peer(relay, relay, FrameRelay::kToken, kMac);
  relay.set_frame_sink([&peer](std::span<const uint8_t> f) { peer.on_wire_frame(f); });
  relay.set_frame_receiver(&peer);
  relay.start();
  session::TrafficConfig c;
  c.transmit = direction == "tx";
  c.receive = direction == "rx";
  c.frame_size = frame_size;
  std::atomic<bool> done{false};
  c.stop = &done;
  std::thread window([&] { measure_window(o, peer, c.transmit, p, done); });
  const auto result = peer.run(c);
  window.join();
  relay.stop();
  const auto& d = c.transmit ? result.tx : result.rx;
  if (p.error.empty()) p.error = traffic_error(d, p.packets);
  return p;
}

TcpPoint measure_relay_tcp(const BenchOptions& o) {
  TcpPoint t;
  t.isolation = "relay";
  t.seconds = o.tcp_seconds;
  if (!net::have_net_admin()) {
    t.error = "skipped: needs CAP_NET_ADMIN (run as root) for the TAP interfaces";
    return t;
  }
  if (access("/usr/bin/iperf3", X_OK) != 0) {
    t.error = "skipped: iperf3 is not installed (scripts/setup.sh installs it)";
    return t;
  }
  auto ns = net::NetNamespace::create_owned("side-peer");
  if (!ns) {
    t.error = "cannot create the peer namespace: " + ns.error().message;
    return t;
  }
  auto wire_tap = net::Tap::create("peer0", ns->name());
  auto host_tap = wire_tap ? net::Tap::create("sidebench0") : Result<net::Tap>(wire_tap.error());
  if (!host_tap) {
    t.error = "TAP: " + host_tap.error().message;
    return t;
  }
  FrameRelay relay(kMac);
  t.error = relay_iperf3(o, relay, *ns, std::move(*host_tap), std::move(*wire_tap), t);
  return t;
}

}  // namespace side::bench
