#include "cli/run_disk.h"

#include <signal.h>

#include <atomic>
#include <cstdio>

#include "cli/json.h"
#include "cli/progress.h"
#include "cli/run_report.h"
#include "devices/device_models.h"
#include "devices/vfio_user/qemu_binary.h"
#include "service/service_endpoint.h"
#include "session/block_session.h"

namespace side::cli {
namespace {

std::atomic<bool> g_disk_stop{false};

// Ctrl-C and SIGTERM end a service cleanly: the FUSE file is unmounted, the sockets removed, the driver unloaded.
void install_disk_stop_handler() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_disk_stop = true; };
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

// What the session is to do, from the command line; 0, or the exit status of a refusal.
int configure(const RunArgs& args, const domain::DomainConfig& config, const std::string& device,
              session::BlockSessionConfig& s) {
  auto qemu = vfio_user::find_qemu(/*build=*/true);  // disks are QEMU's models, served over vfio-user
  if (!qemu) {
    std::fprintf(stderr, "side: %s\n", qemu.error().message.c_str());
    return 1;
  }
  s.qemu_binary = *qemu;
  s.isolation = args.isolation;
  s.domain = config;
  s.module = args.module;
  s.device = device;
  s.params = args.params;
  s.allow_missing = args.allow_missing;
  s.disk_image = args.disk;
  s.verify = args.verify;
  s.fuse_path = args.fuse;
  s.nbd_unix = args.nbd_socket;
  s.nbd_port = args.nbd_port;
  s.exec = args.exec;
  s.duration_s = args.duration;
  s.stop = &g_disk_stop;
  s.announce = !args.quiet;
  s.crash_every_s = args.crash_every;
  s.crashes = args.crash_every > 0 ? args.crashes : 0;
  if (s.crashes) s.policy = supervisor::RecoveryPolicy::for_deliberate_faults(s.crashes + 5);
  install_disk_stop_handler();
  return 0;
}

void verify_json(const session::BlockVerifyResult& v, Json& j) {
  j.key("verify").object_begin().field("ok", v.ok()).field("blocks_written", v.blocks_written);
  j.field("blocks_verified", v.blocks_verified).field("blocks_mismatched", v.blocks_mismatched);
  j.field("requests", v.requests).field("bytes_written", v.bytes_written).field("bytes_read", v.bytes_read);
  j.field("write_s", v.write_s).field("read_s", v.read_s);
  if (!v.error.empty()) j.field("error", v.error);
  j.object_end();
}

void print_json(const RunArgs& args, const session::BlockSessionReport& r) {
  Json j;
  j.object_begin().field("schema", kRunSchema).field("module", args.module).field("isolation", args.isolation);
  j.field("class", "block").field("ok", r.ok());
  if (!r.error.empty()) j.field("error", r.error);
  j.field("driver", r.driver).field("device", r.device).field("disk", r.disk).field("image", r.image);
  j.field("domain_pid", r.domain_pid).field("load_ms", r.load_ms).field("probe_ms", r.probe_ms);
  j.field("remove_ms", r.remove_ms);
  j.key("geometry").object_begin().field("capacity", r.geometry.capacity);
  j.field("logical_block_size", r.geometry.logical_block_size).field("max_transfer", r.geometry.max_transfer);
  j.field("flush", r.geometry.flush).field("discard", r.geometry.discard).field("read_only", r.geometry.read_only);
  j.object_end();
  if (r.verify) verify_json(*r.verify, j);
  if (r.nbd_port) j.field("nbd_port", static_cast<uint32_t>(r.nbd_port));
  if (!args.exec.empty()) j.field("exec_status", r.exec_status);
  j.field("requests", r.requests).field("request_errors", r.request_errors).field("reissued", r.reissued);
  j.field("gave_up", r.gave_up);
  json_recoveries(j, r.recoveries);
  j.field("bytes_read", r.bytes_read).field("bytes_written", r.bytes_written);
  j.field("dma_mappings_after_remove", r.dma_mappings_after_remove);
  j.key("faults").array_begin();
  for (const auto& f : r.faults) {
    j.object_begin().field("kind", f.kind_name).field("message", f.message).field("location", f.location);
    j.object_end();
  }
  j.array_end().object_end();
  std::printf("%s\n", j.str().c_str());
}

void print_text(const session::BlockSessionReport& r) {
  if (!r.error.empty()) std::fprintf(stderr, "side: %s\n", r.error.c_str());
  if (r.disk.empty()) return;
  std::printf("%s on %s: disk %s, %llu MiB, %u-byte blocks; probe %.1f ms\n", r.driver.c_str(), r.device.c_str(),
              r.disk.c_str(), static_cast<unsigned long long>(r.geometry.capacity >> 20), r.geometry.logical_block_size,
              r.probe_ms);
  if (const auto& v = r.verify) {
    std::printf("verify: %llu blocks written, %llu verified, %llu mismatched (write %.2f s, read %.2f s)%s\n",
                static_cast<unsigned long long>(v->blocks_written), static_cast<unsigned long long>(v->blocks_verified),
                static_cast<unsigned long long>(v->blocks_mismatched), v->write_s, v->read_s, v->ok() ? "" : " FAILED");
  }
  std::printf("requests %llu (%llu failed, %llu reissued), %llu bytes read, %llu written; faults %zu, recoveries %zu\n",
              static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.request_errors),
              static_cast<unsigned long long>(r.reissued), static_cast<unsigned long long>(r.bytes_read),
              static_cast<unsigned long long>(r.bytes_written), r.faults.size(), r.recoveries.size());
}

}  // namespace

bool is_disk_device(const std::string& device) {
  const devices::DeviceModel* m = devices::find_device_model(device);
  return m && (m->identity.class_code >> 16) == 0x01;
}

int run_disk(const RunArgs& args, const domain::DomainConfig& config, const std::string& device) {
  session::BlockSessionConfig s;
  if (int refused = configure(args, config, device, s)) return refused;
  // Service mode (src/service), as for NICs: readiness for a service manager, and what `side status` shows.
  std::unique_ptr<service::ServiceEndpoint> endpoint;
  if (!s.fuse_path.empty() || !s.nbd_unix.empty() || s.nbd_port) {
    endpoint = service::ServiceEndpoint::start();
    s.on_status = [e = endpoint.get()](const session::SessionStatus& status) { e->on_status(status); };
  }
  ProgressLine progress("side run", args.verify && ProgressLine::wanted(args.quiet || args.json));
  if (progress.enabled()) {
    s.verify_config.on_progress = [&](uint64_t done, uint64_t total) { progress.update(done, total, "requests"); };
  }
  const auto report = session::run_block_session(s);
  progress.finish();
  if (args.json) {
    print_json(args, report);
  } else {
    print_text(report);
  }
  const bool exec_ok = args.exec.empty() || report.exec_status == 0;
  return report.ok() && exec_ok ? 0 : 1;
}

}  // namespace side::cli
