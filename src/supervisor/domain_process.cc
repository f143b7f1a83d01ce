#include "supervisor/domain_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"
#include "common/strings.h"
#include "domain/domain.h"
#include "domain/process_main.h"
#include "ipc/doorbell.h"
#include "loader/dependency_walk.h"
#include "loader/elf_file.h"
#include "loader/module_index.h"
#include "loader/module_info.h"
#include "supervisor/domain_limits.h"

namespace side::supervisor {
namespace {

constexpr uint64_t kArenaBlock = 4ull << 20;  // the domain's Arena rounds to 4 MiB blocks
constexpr int kExitUnconfined = 126;          // the child could not put itself under its limits (never runs unconfined)

// The driver and its dependencies, dependencies first, as modprobe would load them: (name, path) of each.
Status resolve_modules(loader::ModuleIndex& index, const std::string& name,
                       std::vector<std::pair<std::string, std::string>>& out) {
  loader::DependencyWalk walk;
  walk.open = [&](const std::string& n) { return loader::open_module(index, n); };
  walk.present = [&](const std::string& n) {
    return std::any_of(out.begin(), out.end(), [&](const auto& m) { return m.first == n; });
  };
  walk.visit = [&](loader::OpenedModule& m, bool) -> Status {
    out.emplace_back(m.info.name, m.path);
    return {};
  };
  auto root = walk.run(name);
  if (!root) return root.error();
  return {};
}

// A domain process writes nothing but to its channel: before the channel is up, its exit status says why.
std::string exit_status_explained(int status) {
  std::string why = "exited with status " + std::to_string(status);
  if (status == domain::kExitStartupFailed) return why + " (it could not start: bad arguments or descriptors)";
  if (status == kExitUnconfined) return why + " (it could not be put under its resource limits)";
  if (status == 127) return why + " (the side executable could not be started)";
  return why;
}

// Memory shared with a domain: its size fixed for good, whatever the domain does with its descriptor (no
// shrinking under the supervisor's mapping, which would SIGBUS it; no growing; no unsealing).
int sealed_memfd(const char* name, uint64_t size) {
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  if (ftruncate(fd, static_cast<off_t>(size)) != 0 ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

constexpr int kFirstFd = 3;  // where the domain finds its descriptors: channel, arena, kapi, symvers, modules

// The domain's command line: which descriptor is which, the driver's parameters and the optimisations turned off.
std::vector<std::string> domain_arguments(const DomainProcessConfig& config, const domain::LoadRequest& driver,
                                          uint64_t arena_size,
                                          const std::vector<std::pair<std::string, std::string>>& modules) {
  std::vector<std::string> args = {"side",          "__domain",
                                   "--channel",     std::to_string(kFirstFd),
                                   "--arena",       std::to_string(kFirstFd + 1),
                                   "--arena-bytes", std::to_string(arena_size),
                                   "--kapi",        std::to_string(kFirstFd + 2),
                                   "--symvers",     std::to_string(kFirstFd + 3)};
  for (size_t i = 0; i < modules.size(); ++i) {
    args.push_back("--module");
    args.push_back(modules[i].first + ":" + std::to_string(kFirstFd + 4 + static_cast<int>(i)));
  }
  if (!driver.params.empty()) args.insert(args.end(), {"--params", driver.params});
  if (driver.allow_missing) args.push_back("--allow-missing");
  if (!config.virtual_time) args.push_back("--real-time");
  if (auto off = ipc::disabled_optimisations(config.optimisations); !off.empty()) {
    args.push_back("--disable");
    args.push_back(off);
  }
  return args;
}

// The descriptors handed to the domain, in their order, each moved above every target number (so that dup2 into
// 3.. never clobbers a source), and /dev/null for its 0, 1 and 2: the domain holds no descriptor of the user's.
// Owns the copies it made.
class HandedDescriptors {
 public:
  ~HandedDescriptors() {
    for (int fd : high_) {
      if (fd >= 0) ::close(fd);
    }
    if (null_fd_ >= 0) ::close(null_fd_);
  }
  Status open(int channel_fd, int arena_fd, const std::vector<std::string>& paths) {
    for (int fd : {channel_fd, arena_fd}) high_.push_back(fcntl(fd, F_DUPFD_CLOEXEC, 100));
    for (const std::string& path : paths) {
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) return make_error("cannot open a file for the domain: " + std::string(std::strerror(errno)));
      high_.push_back(fcntl(fd, F_DUPFD_CLOEXEC, 100));
      ::close(fd);
    }
    null_fd_ = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd_ < 0) return make_error(std::string("cannot open /dev/null: ") + std::strerror(errno));
    return {};
  }
  // In the child: only async-signal-safe calls. False if a descriptor could not be put in place.
  bool install_in_child() const {
    for (int std_fd = 0; std_fd < 3; ++std_fd) {
      if (dup2(null_fd_, std_fd) < 0) return false;
    }
    for (size_t i = 0; i < high_.size(); ++i) {
      if (high_[i] < 0 || dup2(high_[i], kFirstFd + static_cast<int>(i)) < 0) return false;
    }
    syscall(SYS_close_range, kFirstFd + high_.size(), ~0u, 0);
    return true;
  }

 private:
  std::vector<int> high_;
  int null_fd_ = -1;
};

}  // namespace

// Memory shared with the domain: the arena and the channel, sealed memfds mapped here too.
Status DomainProcess::create_shared_memory(uint64_t arena_bytes) {
  arena_size_ = (arena_bytes + kArenaBlock - 1) / kArenaBlock * kArenaBlock;
  shared_size_ = ipc::Channel::size_needed();
  arena_fd_ = sealed_memfd("side-arena", arena_size_);
  channel_fd_ = sealed_memfd("side-channel", shared_size_);
  if (arena_fd_ < 0 || channel_fd_ < 0) {
    return make_error(std::string("cannot create the domain's memory: ") + std::strerror(errno));
  }
  void* a = mmap(nullptr, arena_size_, PROT_READ | PROT_WRITE, MAP_SHARED, arena_fd_, 0);
  void* c = mmap(nullptr, shared_size_, PROT_READ | PROT_WRITE, MAP_SHARED, channel_fd_, 0);
  if (a == MAP_FAILED || c == MAP_FAILED) return make_error("cannot map the domain's memory");
  arena_ = static_cast<uint8_t*>(a);
  shared_ = c;
  auto channel = ipc::Channel::attach(c, shared_size_, true);
  if (!channel) return channel.error();
  channel_ = *channel;
  // Frames the domain took stay readable for recovery's requeue until half a ring's worth came after them.
  channel_.tx().keep_history(ipc::kTxRing.slots / 2);
  return {};
}

// Forks the domain process under its limits, with its descriptors in place, and runs `side __domain` in it.
Status DomainProcess::spawn(const DomainProcessConfig& config, const domain::LoadRequest& driver,
                            const ModuleFiles& modules) {
  std::vector<std::string> paths = {config.kapi_path, config.symvers_path};
  for (const auto& [name, path] : modules) paths.push_back(path);
  HandedDescriptors fds;
  SIDE_TRY(fds.open(channel_fd_, arena_fd_, paths));
  std::vector<std::string> args = domain_arguments(config, driver, arena_size_, modules);
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  DomainLimits::protect_supervisor();
  limits_ = std::make_unique<DomainLimits>(DomainLimitValues::for_arena(arena_size_));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return make_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent || !fds.install_in_child()) _exit(127);
    if (!limits_->apply_in_child()) _exit(kExitUnconfined);
    execv(config.executable.c_str(), argv.data());
    _exit(127);
  }
  pid_ = pid;
  return {};
}

// The domain announces itself once the driver is loaded (or failed to load).
Status DomainProcess::wait_until_ready() {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, std::chrono::milliseconds(bounds_.start_ms),
                         [&] { return ready_.has_value() || exited_.load(); })) {
    // A start that does not finish is a hung driver like any other unanswered request (destroying it kills it).
    std::string why =
        "the domain process did not load " + driver_name_ + " within " + std::to_string(bounds_.start_ms) + " ms";
    lock.unlock();
    add_fault(SIDE_FAULT_HUNG, why);
    return make_error(why);
  }
  if (!ready_) {
    std::string why = faults_.empty() ? "" : ": " + faults_.back().message;
    return make_error("the domain process ended during start-up" + why);
  }
  if (ready_->status != 0) return make_error(std::string(ready_->payload.begin(), ready_->payload.end()));
  return {};
}

Result<std::unique_ptr<DomainProcess>> DomainProcess::start(const DomainProcessConfig& config,
                                                            const domain::LoadRequest& driver) {
  std::unique_ptr<DomainProcess> p(new DomainProcess());
  loader::ModuleIndex index(config.modules_dir);
  ModuleFiles modules;
  SIDE_TRY(resolve_modules(index, driver.module, modules));
  p->driver_name_ = modules.back().first;
  SIDE_TRY(p->create_shared_memory(config.arena_bytes));
  SIDE_TRY(p->spawn(config, driver, modules));
  p->bounds_ = config.liveness;
  p->liveness_ = std::make_unique<LivenessMonitor>(p->channel_, p->bounds_);
  p->service_spin_ns_ = config.optimisations.streamlined_crossing ? 20'000 : 0;
  p->log_held_ = config.log_held;
  p->service_ = std::thread([raw = p.get()] { raw->service_loop(); });
  p->exit_watcher_ = std::thread([raw = p.get()] { raw->watch_exit(); });
  SIDE_TRY(p->wait_until_ready());
  return p;
}

DomainProcess::~DomainProcess() {
  shutdown();
  if (arena_) munmap(arena_, arena_size_);
  if (shared_) munmap(shared_, shared_size_);
  if (arena_fd_ >= 0) ::close(arena_fd_);
  if (channel_fd_ >= 0) ::close(channel_fd_);
}

// ---- control --------------------------------------------------------------------------------------------------

// The process transport: one request at a time on the control ring, its answer matched by cookie.
Result<ipc::ControlAnswer> DomainProcess::transact(const ipc::ControlRequest& request) {
  std::lock_guard serial(control_mutex_);
  uint64_t cookie;
  {
    std::lock_guard lock(mutex_);
    if (exited_.load()) return make_error("the domain process is gone");
    cookie = next_cookie_++;
  }
  side_msg m = request.head;
  m.cookie = cookie;
  // One request at a time: a ring that does not take one has been tampered with (or its consumer is stuck).
  if (!channel_.control().push(m, request.payload)) {
    if (request.payload.size() > channel_.control().max_payload()) return make_error("request too long");
    add_fault(SIDE_FAULT_PROTOCOL, channel_.control().broken()
                                       ? "the domain corrupted the indices of its control ring"
                                       : "the domain does not take requests (its control ring stays full)");
    (void)kill();
    return make_error("the domain does not take requests");
  }
  ipc::Doorbell(&channel_.header().control_bell).ring(1);
  const unsigned bound_ms = bounds_.request_bound_ms(m.type);
  const char* what = ipc::control_op_info(m.type).name;
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, std::chrono::milliseconds(bound_ms),
                         [&] { return replies_.count(cookie) || exited_.load(); })) {
    lock.unlock();
    hung_request(what, bound_ms);
    return make_error(std::string("the domain did not answer the ") + what + " request within " +
                      std::to_string(bound_ms) + " ms");
  }
  auto it = replies_.find(cookie);
  if (it == replies_.end()) return make_error("the domain process is gone");
  ipc::ControlAnswer r{it->second.status, std::move(it->second.payload)};
  replies_.erase(it);
  return r;
}

// vCPU 0 did not answer in time: it is stuck in driver code (or never read the request). Nothing more can be asked
// of this domain, so it is ended now rather than left to hold up whoever tears it down.
void DomainProcess::hung_request(const char* what, unsigned bound_ms) {
  add_fault(SIDE_FAULT_HUNG, std::string("the domain did not answer the ") + what + " request within " +
                                 std::to_string(bound_ms) + " ms (virtual CPU 0 is stuck in driver code)");
  (void)kill();
}

Result<std::string> DomainProcess::load(const domain::LoadRequest& request) {
  // The driver was loaded when the process started; a domain process serves exactly that driver.
  if (normalize_module_name(request.module) != normalize_module_name(driver_name_) &&
      normalize_module_name(request.module) != normalize_module_name(driver_name_ + ".ko")) {
    return make_error("a domain process serves only " + driver_name_);
  }
  return driver_name_;
}

// ---- hot path -----------------------------------------------------------------------------------------------

// vCPU 1's doorbell, counted: a ring that finds it asleep costs a futex wake and a context switch in the domain.
void DomainProcess::ring_domain(uint32_t bits) {
  CrossingCounters::bump(crossings_.domain_bells);
  if (ipc::Doorbell(&channel_.header().softirq_bell).ring(bits)) CrossingCounters::bump(crossings_.domain_wakes);
}

void DomainProcess::raise_irq(uint32_t irq) {
  if (irq >= 64) return;
  channel_.header().irq_pending.fetch_or(uint64_t{1} << irq);
  ring_domain(ipc::kBellIrq);
}

void DomainProcess::set_register_shadow(unsigned index, uint32_t key, uint32_t value) {
  if (index >= ipc::kRegisterShadows) return;
  ipc::RegisterShadow& s = channel_.header().shadows[index];
  s.value.store(value, std::memory_order_release);
  s.key.store(key, std::memory_order_release);
}

bool DomainProcess::submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload) {
  auto h = ipc::encode<ipc::TxFrame>({netdev, offload}, frame);
  if (!h) return false;
  {
    std::lock_guard lock(tx_mutex_);
    const uint32_t at = channel_.tx().produced();
    if (!channel_.tx().push(*h, frame)) {
      if (channel_.tx().broken() && !faulty_.load()) {
        add_fault(SIDE_FAULT_PROTOCOL, "the domain corrupted the indices of the transmit ring");
      }
      return false;
    }
    tx_records_[tx_recorded_++ % tx_records_.size()] = {at, static_cast<uint32_t>(frame.size()), offload};
  }
  CrossingCounters::bump(crossings_.frames_out);
  ring_domain(ipc::kBellTx);
  return true;
}

size_t DomainProcess::recent_tx(size_t count, const RecentFrame& take) {
  std::lock_guard lock(tx_mutex_);
  const uint64_t n = std::min<uint64_t>({count, tx_recorded_, tx_records_.size()});
  std::vector<uint8_t> frame(channel_.tx().max_payload());
  size_t found = 0;
  for (uint64_t i = tx_recorded_ - n; i < tx_recorded_; ++i) {
    const TxRecord& r = tx_records_[i % tx_records_.size()];
    if (!channel_.tx().read_back(r.at, r.len, frame)) continue;  // its slots were reused: lost
    take(count - static_cast<size_t>(tx_recorded_ - i), std::span<const uint8_t>(frame.data(), r.len), r.offload);
    ++found;
  }
  return found;
}

// ---- service thread -----------------------------------------------------------------------------------------

void DomainProcess::service_loop() {
  auto on_reply = [this](uint16_t type, uint64_t cookie, int64_t status, std::span<const uint8_t> payload) {
    Reply r{status, std::vector<uint8_t>(payload.begin(), payload.end())};
    std::lock_guard lock(mutex_);
    if (type == SIDE_MSG_READY) {
      if (!ready_) ready_ = std::move(r);
      liveness_->start_watching();  // (this thread's, as the handler)
    } else if (cookie > 0 && cookie < next_cookie_) {
      replies_[cookie] = std::move(r);
    }
    changed_.notify_all();
  };
  ChannelServer server(channel_,
                       ChannelServer::Handlers{on_reply, [this](int kind, std::string message, std::string location) {
                                                 add_fault(kind, std::move(message), std::move(location));
                                               }});
  server.set_log_label(driver_name_ + " dom " + std::to_string(pid_));
  server.set_counters(&crossings_);
  if (log_held_) server.hold_log();
  auto drain = [&] {
    // Before the messages that follow the take-over, so that the spare's lines come out in order.
    if (log_release_.exchange(false)) server.release_log();
    server.set_platform(platform_.load());
    server.set_frame_receiver(receiver_.load());
    return server.drain();
  };
  ipc::Doorbell bell(&channel_.header().supervisor_bell);
  ipc::AdaptiveSpin spin(service_spin_ns_);
  // The watchdog's limits are hundreds of milliseconds: it judges after every wait and every 64th busy round, not on
  // every round: each judgement reads the clock.
  unsigned busy_rounds = 0;
  while (!stop_.load()) {
    if (busy_rounds++ % 64 == 0) check_hung();
    if (drain()) continue;
    check_exit();
    if (exited_.load()) {
      // Whatever the domain managed to send before it ended is still taken.
      while (drain()) {
      }
      std::lock_guard lock(mutex_);
      changed_.notify_all();
      return;
    }
    CrossingCounters::bump(crossings_.service_waits);
    bell.wait(spin, 5'000'000);
    busy_rounds = 0;
  }
}

// The watchdog (liveness.h): judged on this thread's clock, from what the domain was asked to do.
void DomainProcess::check_hung() {
  if (faulty_.load() || !liveness_) return;
  if (auto verdict = liveness_->check(monotonic_ns())) add_fault(verdict->kind, std::move(verdict->message));
}

void DomainProcess::add_fault(int kind, std::string message, std::string location) {
  domain::FaultReport r;
  r.kind = kind;
  r.kind_name = domain::fault_kind_name(kind);
  r.message = std::move(message);
  r.location = std::move(location);
  r.at_ns = monotonic_ns();
  logf(LogLevel::kError, "side: domain %d: driver fault (%s): %s%s%s", static_cast<int>(pid_), r.kind_name.c_str(),
       r.message.c_str(), r.location.empty() ? "" : " at ", r.location.c_str());
  faulty_ = true;
  std::function<void()> listener;
  {
    std::lock_guard lock(mutex_);
    faults_.push_back(std::move(r));
    changed_.notify_all();
    listener = fault_listener_;
  }
  if (listener) listener();
}

void DomainProcess::set_fault_listener(std::function<void()> listener) {
  std::lock_guard lock(mutex_);
  fault_listener_ = std::move(listener);
}

void DomainProcess::watch_exit() {
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (fd < 0) return;  // (a kernel without pidfds) the service thread still notices within its timeout
  // Bounded: a process that outlives a stop request is killed by shutdown(), which ends this wait too.
  while (!exited_.load()) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      ipc::Doorbell(&channel_.header().supervisor_bell).ring(ipc::kBellEvents);
      break;
    }
  }
  ::close(fd);
}

std::vector<domain::FaultReport> DomainProcess::faults() const {
  std::lock_guard lock(mutex_);
  return faults_;
}

void DomainProcess::check_exit() {
  if (exited_.load() || pid_ <= 0) return;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return;
  exited_ = true;
  if (!stop_.load()) {
    std::string why = WIFSIGNALED(status) ? std::string("killed by signal ") + strsignal(WTERMSIG(status))
                                          : exit_status_explained(WEXITSTATUS(status));
    add_fault(SIDE_FAULT_DOMAIN_DIED, "the domain process " + why);
  }
  std::lock_guard lock(mutex_);
  changed_.notify_all();
}

Status DomainProcess::kill() {
  if (pid_ <= 0 || exited_.load()) return make_error("the domain process is gone already");
  if (::kill(pid_, SIGKILL) != 0) return make_error(std::string("kill: ") + std::strerror(errno));
  return {};
}

std::optional<DomainCounters> DomainProcess::counters() const {
  return DomainCounters::read(const_cast<ipc::Channel&>(channel_).header().counters);
}

// Bounded whatever the domain does: it gets exit_ms to exit when asked, then it is killed. A request in flight
// (another thread) ends as soon as the process is gone.
void DomainProcess::shutdown() {
  if (pid_ > 0 && !exited_.load()) {
    stop_ = true;  // an exit from here on is the one we asked for
    {
      // Only if no request is in flight: the control ring has one producer at a time.
      std::unique_lock serial(control_mutex_, std::try_to_lock);
      if (serial.owns_lock() && ipc::push<ipc::Shutdown>(channel_.control(), {})) {
        ipc::Doorbell(&channel_.header().control_bell).ring(1);
      }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(bounds_.exit_ms);
    while (!exited_.load() && std::chrono::steady_clock::now() < deadline) {
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_)
        exited_ = true;
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!exited_.load()) {
      ::kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);  // SIGKILL cannot be ignored: this returns at once
      exited_ = true;
    }
    std::lock_guard lock(mutex_);
    changed_.notify_all();
  }
  stop_ = true;
  if (exit_watcher_.joinable()) exit_watcher_.join();  // the process is gone: it has ended, or ends within 100 ms
  // A start that failed before the channel existed has no service thread to wake (and no channel to ring).
  if (!service_.joinable()) return;
  ipc::Doorbell(&channel_.header().supervisor_bell).ring(ipc::kBellEvents);
  service_.join();
}

}  // namespace side::supervisor
