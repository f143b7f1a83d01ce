// What `side run` prints of a session: text for people, or fields of its JSON object (schema side-run/N).
#include "cli/run_report.h"

#include <cstdio>
#include <string>

#include "cli/report_values.h"
#include "domain/faults.h"

namespace side::cli {
namespace {

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

// Who ran what where, and the traffic as the traffic peer counted it.
void json_identity(Json& j, const session::NicSessionConfig& config, const session::NicSessionReport& r,
                   const std::string& isolation) {
  const auto& t = r.traffic;
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
}

// Faults and the restarts that followed them.
}  // namespace

void json_recoveries(Json& j, const std::vector<supervisor::RecoveryTimings>& recoveries) {
  j.key("recoveries").array_begin();
  for (const auto& rec : recoveries) {
    j.object_begin().field("fault", domain::fault_kind_name(rec.kind)).field("ok", rec.ok);
    j.field("total_ms", rec.total_ms).field("mark_ms", rec.mark_ms).field("stop_ms", rec.stop_ms);
    j.field("wait_ms", rec.wait_ms).field("free_ms", rec.free_ms).field("unregister_ms", rec.unregister_ms);
    j.field("reload_ms", rec.reload_ms).field("restart_ms", rec.restart_ms).field("requeued", rec.requeued);
    j.field("probe_ms", rec.probe_ms).field("configure_ms", rec.configure_ms).field("open_ms", rec.open_ms);
    auto measured = [](double ms) { return ms >= 0 ? std::optional<double>(ms) : std::nullopt; };
    json_optional(j, "detect_ms", measured(rec.detect_ms));
    json_optional(j, "link_ms", measured(rec.link_ms));
    json_optional(j, "first_frame_ms", measured(rec.first_frame_ms));
    json_optional(j, "flowing_ms", measured(rec.flowing_ms));
    j.object_end();
  }
  j.array_end();
}

namespace {

void json_faults(Json& j, const session::NicSessionReport& r) {
  j.field("faults", static_cast<uint64_t>(r.faults.size()));
  j.key("fault_reports").array_begin();
  for (const auto& f : r.faults) {
    j.object_begin().field("kind", f.kind_name).field("message", f.message).field("location", f.location);
    j.object_end();
  }
  j.array_end();
  json_recoveries(j, r.recoveries);
}

// Losses, latency, step timings, and the driver's, device's and IOMMU's own counters.
void json_measurements(Json& j, const session::NicSessionConfig& config, const session::NicSessionReport& r) {
  const auto& t = r.traffic;
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
}

// The host side (interface, wire), what ethtool shows, and the domain's interrupt and access counts.
void json_host_and_domain(Json& j, const session::NicSessionConfig& config, const session::NicSessionReport& r) {
  if (config.network.enabled) {
    j.key("host").object_begin().field("ifname", config.network.ifname).field("to_driver", r.host.to_driver);
    j.field("from_driver", r.host.from_driver).field("dropped_oversize", r.host.dropped_oversize);
    j.field("dropped_stalled", r.host.dropped_stalled).field("dropped_offload", r.host.dropped_offload);
    j.field("refused_changes", r.host.refused_changes).object_end();
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
    j.key("device_accesses").object_begin().field("trapped", c.traps).field("via_rewritten_sites", c.patched_accesses);
    j.field("sites_rewritten", c.sites_patched).field("sites_left_trapping", c.sites_refused);
    j.field("reads_from_register_copies", c.shadow_reads).object_end();
  }
  if (r.crossings) {
    const auto& x = *r.crossings;
    j.key("crossings").object_begin().field("to_supervisor", x.to_supervisor());
    j.field("device_reads", x.device_reads).field("device_writes", x.device_writes);
    j.field("dma_changes", x.dma_changes).field("frames_in", x.frames_in).field("frames_out", x.frames_out);
    j.field("events", x.events).field("service_waits", x.service_waits).field("domain_bells", x.domain_bells);
    j.field("domain_wakes", x.domain_wakes).object_end();
  }
  if (r.sfi) {
    j.key("sfi").object_begin().field("write_sites", r.sfi->write_sites);
    j.field("indirect_branches", r.sfi->indirect_branches).field("returns", r.sfi->returns);
    j.field("checks_failed", r.sfi->checks_failed).object_end();
  }
}

void text_identity(const session::NicSessionConfig& config, const session::NicSessionReport& r,
                   const std::string& isolation) {
  std::printf("%s: %s on %s (%s, %s), isolation %s (domain pid %d, supervisor pid %d)\n", config.module.c_str(),
              r.netdev.empty() ? "-" : r.netdev.c_str(), r.device.c_str(), mac_string(r.mac).c_str(), r.driver.c_str(),
              isolation.c_str(), r.domain_pid, r.supervisor_pid);
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
}

void text_traffic(const session::NicSessionConfig& config, const session::NicSessionReport& r) {
  const auto& t = r.traffic;
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
}

void text_counters(const session::NicSessionReport& r) {
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
  if (r.sfi) {
    std::printf(
        "  sfi: %llu write sites, %llu indirect branches, %llu returns checked in the driver's code; %llu checks "
        "failed\n",
        static_cast<unsigned long long>(r.sfi->write_sites), static_cast<unsigned long long>(r.sfi->indirect_branches),
        static_cast<unsigned long long>(r.sfi->returns), static_cast<unsigned long long>(r.sfi->checks_failed));
  }
}

void text_events(const session::NicSessionReport& r) {
  for (const auto& rec : r.recoveries) {
    std::printf(
        "  restart after %s: %.1f ms (mark %.2f, stop %.2f, wait %.2f, free %.2f, unregister %.2f, reload "
        "%.1f, restart %.1f: probe %.1f, configure %.1f, open %.1f), %llu frames requeued%s%s\n",
        domain::fault_kind_name(rec.kind), rec.total_ms, rec.mark_ms, rec.stop_ms, rec.wait_ms, rec.free_ms,
        rec.unregister_ms, rec.reload_ms, rec.restart_ms, rec.probe_ms, rec.configure_ms, rec.open_ms,
        static_cast<unsigned long long>(rec.requeued), rec.ok ? "" : ", failed: ", rec.error.c_str());
    if (rec.ok) {
      std::printf("    detected %.1f ms after the fault; link %.1f ms and first frame %.1f ms after the restart\n",
                  rec.detect_ms, rec.link_ms, rec.first_frame_ms);
    }
  }
  for (const auto& f : r.faults) {
    std::printf("  fault: %s: %s%s%s\n", f.kind_name.c_str(), f.message.c_str(), f.location.empty() ? "" : " at ",
                f.location.c_str());
  }
  if (!r.error.empty()) std::fprintf(stderr, "side: %s\n", r.error.c_str());
  if (r.gave_up) std::fprintf(stderr, "side: %s\n", r.give_up_message.c_str());
}

}  // namespace

void print_run_report(const session::NicSessionConfig& config, const session::NicSessionReport& r,
                      const std::string& isolation, Json* json) {
  if (!came_up(r)) {
    std::fprintf(stderr, "side: %s\n", r.error.c_str());
    if (json) {
      json->field("module", config.module).field("isolation", isolation).field("supervisor_pid", r.supervisor_pid);
      json->field("ok", false).field("error", r.error).field("gave_up", r.gave_up);
    }
    return;
  }
  if (json) {
    json_identity(*json, config, r, isolation);
    json_faults(*json, r);
    json_measurements(*json, config, r);
    json_host_and_domain(*json, config, r);
    return;
  }
  text_identity(config, r, isolation);
  text_traffic(config, r);
  text_counters(r);
  text_events(r);
}

}  // namespace side::cli
