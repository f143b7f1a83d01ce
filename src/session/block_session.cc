#include "session/block_session.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include "block/fuse_file.h"
#include "block/nbd_server.h"
#include "session/driver_disk.h"
#include "session/session_domain.h"
#include "session/shell_command.h"
#include "supervisor/device_choice.h"

namespace side::session {
namespace {

using clock = std::chrono::steady_clock;

double ms_since(clock::time_point t) {
  return std::chrono::duration<double, std::milli>(clock::now() - t).count();
}

// Members in the order they must outlive each other: the domain, its machine, the disk, the exports of the disk.
class BlockSession {
 public:
  explicit BlockSession(const BlockSessionConfig& config) : config_(config) {
    report_.supervisor_pid = static_cast<int>(getpid());
  }
  BlockSessionReport run();

 private:
  std::string start_domain();
  std::string load_and_probe();
  std::string open_disk();
  std::string start_exports();
  std::string serve();
  std::string stop_and_remove(std::string error);
  BlockVerifyResult run_verify();
  void publish(SessionState requested);
  void crash_if_due(clock::time_point& last);
  BlockSessionReport finish(std::string error);
  bool wants_exports() const { return !config_.fuse_path.empty() || !config_.nbd_unix.empty() || config_.nbd_port; }
  void announce() const;

  const BlockSessionConfig& config_;
  BlockSessionReport report_;
  SessionDomain d_;
  uint32_t dev_ = 0;
  uint64_t pdev_ = 0;
  std::unique_ptr<DriverDisk> disk_;
  std::unique_ptr<block::NbdServer> nbd_;
  std::unique_ptr<block::FuseFile> fuse_;
};

std::string BlockSession::start_domain() {
  SessionDomainConfig c;
  c.isolation = config_.isolation;
  c.inproc_control_thread = true;  // the disk's worker submits from a thread of its own
  c.domain = config_.domain;
  c.load = {config_.module, config_.params, config_.allow_missing};
  c.recover = config_.recover && config_.isolation == "process";  // a driver in side's own process cannot restart
  c.policy = config_.policy;
  c.executable = config_.executable;
  auto d = start_session_domain(c);
  if (!d) return d.error().message;
  d_ = std::move(*d);
  report_.domain_pid = d_.domain->pid();
  return {};
}

std::string BlockSession::load_and_probe() {
  auto t = clock::now();
  auto loaded = d_.domain->load({config_.module, config_.params, config_.allow_missing});
  report_.load_ms = ms_since(t);
  if (!loaded) return loaded.error().message;
  report_.driver = *loaded;
  auto model = supervisor::device_for_module(config_.domain.modules_dir, config_.module, config_.device);
  if (!model) return model.error().message;
  devices::DeviceOptions options;
  options.qemu_binary = config_.qemu_binary;
  options.disk_image = config_.disk_image;
  options.disk_size = config_.disk_size;
  options.disk_direct = config_.disk_direct;
  auto dev = d_.machine->add_device(**model, options);
  if (!dev) return "cannot add the " + (*model)->name + ": " + dev.error().message;
  dev_ = *dev;
  report_.device = pci_name(d_.machine->info(dev_));
  t = clock::now();
  auto pdev = d_.domain->probe(dev_);
  report_.probe_ms = ms_since(t);
  if (!pdev) return pdev.error().message;
  pdev_ = *pdev;
  return open_disk();
}

std::string BlockSession::open_disk() {
  DriverDiskOptions options;
  options.reissue = d_.recoverable != nullptr;
  options.slots = config_.queue_depth;
  auto disk = DriverDisk::open(*d_.domain, 0, options);
  if (!disk) return report_.driver + " bound the device but " + disk.error().message;
  disk_ = std::move(*disk);
  d_.machine->set_block_listener(disk_.get());
  report_.disk = disk_->info().name;
  report_.image = config_.disk_image.empty() ? "(temporary)" : config_.disk_image;
  report_.info = disk_->info();
  report_.geometry = disk_->geometry();
  return {};
}

std::string BlockSession::start_exports() {
  if (!config_.nbd_unix.empty() || config_.nbd_port) {
    block::NbdServerOptions o;
    o.unix_path = config_.nbd_unix;
    o.tcp_port = config_.nbd_port;
    o.description = "disk " + report_.disk + " of an isolated " + report_.driver;
    auto s = block::NbdServer::start(*disk_, o);
    if (!s) return "NBD: " + s.error().message;
    nbd_ = std::move(*s);
    report_.nbd_port = nbd_->tcp_port();
  }
  if (!config_.fuse_path.empty()) {
    block::FuseFileOptions o;
    o.path = config_.fuse_path;
    auto f = block::FuseFile::start(*disk_, o);
    if (!f) return "FUSE: " + f.error().message;
    fuse_ = std::move(*f);
  }
  if (config_.announce) announce();
  return {};
}

void BlockSession::announce() const {
  std::string where;
  if (fuse_) where += " FUSE file " + config_.fuse_path;
  if (!config_.nbd_unix.empty()) where += " nbd+unix:///side?socket=" + config_.nbd_unix;
  if (config_.nbd_port) where += " nbd://127.0.0.1:" + std::to_string(report_.nbd_port) + "/side";
  std::fprintf(stderr, "side: %s (%llu MiB) of %s exported:%s\n", report_.disk.c_str(),
               static_cast<unsigned long long>(report_.geometry.capacity >> 20), report_.driver.c_str(), where.c_str());
}

// The exports serve until the host command ends, the duration passes, or the user stops side.
std::string BlockSession::serve() {
  pid_t exec_pid = -1;
  if (!config_.exec.empty() && (exec_pid = spawn_shell(config_.exec, "", false)) < 0) {
    return "cannot start the command";
  }
  const auto start = clock::now();
  auto last_crash = start, last_status = start;
  publish(SessionState::kRunning);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    crash_if_due(last_crash);
    if (clock::now() - last_status >= std::chrono::milliseconds(500)) {
      last_status = clock::now();
      publish(SessionState::kRunning);
    }
    if (exec_pid > 0) {
      int status = 0;
      if (waitpid(exec_pid, &status, WNOHANG) == exec_pid) {
        report_.exec_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return {};
      }
    } else if (config_.duration_s > 0 &&
               std::chrono::duration<double>(clock::now() - start).count() >= config_.duration_s) {
      return {};
    }
    if (config_.stop && config_.stop->load()) break;
    if (d_.domain->faulty()) {
      stop_child(exec_pid);
      return "driver fault";
    }
  }
  stop_child(exec_pid);
  return {};
}

void BlockSession::publish(SessionState requested) {
  if (!config_.on_status) return;
  SessionStatus s;
  s.module = config_.module;
  s.driver = report_.driver;
  s.isolation = config_.isolation;
  s.device = report_.device;
  s.netdev = report_.disk;
  s.ifname = !config_.fuse_path.empty() ? config_.fuse_path : config_.nbd_unix;
  s.disk = true;
  if (disk_) {
    const auto& c = disk_->counters();
    s.disk_traffic = {c.writes.load(), c.bytes_written.load(), c.reads.load(), c.bytes_read.load(), c.errors.load()};
  }
  s.state = requested;
  if (d_.recoverable && d_.recoverable->recovering()) s.state = SessionState::kRecovering;
  if (d_.domain->faulty()) s.state = SessionState::kFailed;
  s.domain_pid = d_.domain->pid();
  s.generation = d_.domain->generation();
  const auto faults = d_.domain->faults();
  s.faults = faults.size();
  if (!faults.empty()) s.last_fault = faults.back().kind_name + ": " + faults.back().message;
  config_.on_status(s);
}

// --crash-every: each deliberate crash hits a running driver, the interval counting from the end of the last
// restart (as the NIC's network mode does).
void BlockSession::crash_if_due(clock::time_point& last) {
  if (d_.domain->recovering()) last = clock::now();
  if (config_.crash_every_s <= 0 || report_.kills >= config_.crashes) return;
  if (std::chrono::duration<double>(clock::now() - last).count() < config_.crash_every_s) return;
  last = clock::now();
  ++report_.kills;
  if (auto s = d_.domain->kill(); !s) std::fprintf(stderr, "side: %s\n", s.error().message.c_str());
}

// The workload, with the domain killed where the configuration asks: a moment after a request completed, so that
// the kill meets the next one in flight.
BlockVerifyResult BlockSession::run_verify() {
  BlockVerifyConfig c = config_.verify_config;
  std::mutex mu;  // progress comes from the completions' threads
  std::vector<std::thread> killers;
  c.on_progress = [&](uint64_t done, uint64_t total) {
    if (config_.verify_config.on_progress) config_.verify_config.on_progress(done, total);
    std::lock_guard lock(mu);
    for (uint64_t at : config_.kill_after_requests) {
      if (at != done) continue;
      ++report_.kills;
      killers.emplace_back([this] {
        // Each kill hits a running driver, not one still being restarted (that would test something else).
        const auto until = clock::now() + std::chrono::seconds(10);
        while (d_.domain->recovering() && clock::now() < until)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        std::this_thread::sleep_for(std::chrono::microseconds(300));
        if (auto s = d_.domain->kill(); !s) std::fprintf(stderr, "side: %s\n", s.error().message.c_str());
      });
    }
  };
  BlockVerifyResult r = run_block_verify(*disk_, c);
  std::lock_guard lock(mu);
  for (auto& t : killers) t.join();
  return r;
}

// The exports first (no new requests), then the disk (those in flight), then the driver's device.
std::string BlockSession::stop_and_remove(std::string error) {
  if (fuse_ || nbd_) publish(SessionState::kStopping);
  if (fuse_) fuse_->stop();
  if (nbd_) nbd_->stop();
  if (disk_) {
    // Every request ends (completed, or failed by its timeout) before completions stop reaching the disk.
    disk_->drain(std::chrono::seconds(35));
    d_.machine->set_block_listener(nullptr);
    const auto& c = disk_->counters();
    report_.requests = c.requests;
    report_.request_errors = c.errors;
    report_.bytes_read = c.bytes_read;
    report_.bytes_written = c.bytes_written;
    report_.reissued = c.reissued;
    disk_.reset();
  }
  fuse_.reset();
  nbd_.reset();
  auto t = clock::now();
  if (auto s = d_.domain->remove(pdev_); !s && error.empty()) error = "remove: " + s.error().message;
  report_.remove_ms = ms_since(t);
  if (auto s = d_.domain->unload(report_.driver); !s && error.empty()) error = "unload: " + s.error().message;
  return error;
}

BlockSessionReport BlockSession::finish(std::string error) {
  if (report_.error.empty()) report_.error = std::move(error);
  if (!d_.domain) return report_;
  d_.domain->shutdown();
  report_.faults = d_.domain->faults();
  if (d_.recoverable) {
    report_.recoveries = d_.recoverable->recoveries();
    report_.gave_up = d_.recoverable->gave_up();
  }
  if (d_.machine && d_.machine->device_count()) report_.dma_mappings_after_remove = d_.machine->dma(0).live_mappings();
  return report_;
}

BlockSessionReport BlockSession::run() {
  if (auto e = start_domain(); !e.empty()) {
    report_.error = e;
    return report_;
  }
  if (auto e = load_and_probe(); !e.empty()) return finish(pdev_ ? stop_and_remove(e) : e);
  std::string error;
  if (config_.verify) {
    report_.verify = run_verify();
    if (!report_.verify->error.empty()) error = "verify: " + report_.verify->error;
  }
  if (error.empty() && config_.workload) {
    config_.workload(BlockSessionHandles{*disk_, *d_.domain});
    if (d_.domain->faulty()) error = "driver fault";
  }
  if (error.empty() && wants_exports()) {
    error = start_exports();
    if (error.empty()) error = serve();
  } else if (error.empty() && !config_.exec.empty()) {
    error = serve();
  }
  return finish(stop_and_remove(error));
}

}  // namespace

BlockSessionReport run_block_session(const BlockSessionConfig& config) {
  return BlockSession(config).run();
}

}  // namespace side::session
