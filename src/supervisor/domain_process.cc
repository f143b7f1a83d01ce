#include "supervisor/domain_process.h"

#include <fcntl.h>
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

#include "common/log.h"
#include "common/strings.h"
#include "domain/domain.h"
#include "domain/process_main.h"
#include "ipc/doorbell.h"
#include "loader/elf_file.h"
#include "loader/module_index.h"
#include "loader/module_info.h"
#include "supervisor/domain_limits.h"

namespace side::supervisor {
namespace {

constexpr uint64_t kArenaBlock = 4ull << 20;  // the domain's Arena rounds to 4 MiB blocks
constexpr int kExitUnconfined = 126;          // the child could not put itself under its limits (never runs unconfined)

// The driver and its dependencies, dependencies first, as modprobe would load them.
Status resolve_modules(loader::ModuleIndex& index, const std::string& name, std::vector<std::string>& chain,
                       std::vector<std::pair<std::string, std::string>>& out) {
  auto path = index.resolve(name);
  if (!path) return path.error();
  auto elf = loader::ElfFile::read(*path);
  if (!elf) return elf.error();
  auto info = loader::read_module_info(*elf);
  if (!info) return info.error();
  for (const auto& [n, p] : out) {
    if (n == info->name) return {};
  }
  if (std::find(chain.begin(), chain.end(), info->name) != chain.end()) {
    return make_error(info->name + ": circular module dependency");
  }
  chain.push_back(info->name);
  for (const std::string& dep : info->depends()) SIDE_TRY(resolve_modules(index, dep, chain, out));
  chain.pop_back();
  out.emplace_back(info->name, *path);
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

int open_readonly(const std::string& path) {
  return ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
}

uint64_t monotonic_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

Result<std::unique_ptr<DomainProcess>> DomainProcess::start(const DomainProcessConfig& config,
                                                            const domain::LoadRequest& driver) {
  std::unique_ptr<DomainProcess> p(new DomainProcess());
  loader::ModuleIndex index(config.modules_dir);
  std::vector<std::pair<std::string, std::string>> modules;
  std::vector<std::string> chain;
  SIDE_TRY(resolve_modules(index, driver.module, chain, modules));
  p->driver_name_ = modules.back().first;

  // Memory shared with the domain: the arena and the channel.
  p->arena_size_ = (config.arena_bytes + kArenaBlock - 1) / kArenaBlock * kArenaBlock;
  p->shared_size_ = ipc::Channel::size_needed();
  p->arena_fd_ = sealed_memfd("side-arena", p->arena_size_);
  p->channel_fd_ = sealed_memfd("side-channel", p->shared_size_);
  if (p->arena_fd_ < 0 || p->channel_fd_ < 0) {
    return make_error(std::string("cannot create the domain's memory: ") + std::strerror(errno));
  }
  void* a = mmap(nullptr, p->arena_size_, PROT_READ | PROT_WRITE, MAP_SHARED, p->arena_fd_, 0);
  void* c = mmap(nullptr, p->shared_size_, PROT_READ | PROT_WRITE, MAP_SHARED, p->channel_fd_, 0);
  if (a == MAP_FAILED || c == MAP_FAILED) return make_error("cannot map the domain's memory");
  p->arena_ = static_cast<uint8_t*>(a);
  p->shared_ = c;
  auto channel = ipc::Channel::attach(c, p->shared_size_, true);
  if (!channel) return channel.error();
  p->channel_ = *channel;
  // Frames the domain took stay readable for recovery's requeue until half a ring's worth came after them.
  p->channel_.tx().keep_history(ipc::kTxRing.slots / 2);

  // Descriptors for the child, in order: channel, arena, kapi, symvers, modules.
  std::vector<int> fds = {p->channel_fd_, p->arena_fd_, open_readonly(config.kapi_path),
                          open_readonly(config.symvers_path)};
  for (const auto& [name, path] : modules) fds.push_back(open_readonly(path));
  auto close_opened = [&] {
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i] >= 0) ::close(fds[i]);
    }
  };
  for (size_t i = 2; i < fds.size(); ++i) {
    if (fds[i] < 0) {
      close_opened();
      return make_error("cannot open a file for the domain: " + std::string(std::strerror(errno)));
    }
  }
  constexpr int kFirstFd = 3;
  std::vector<std::string> args = {"side",          "__domain",
                                   "--channel",     std::to_string(kFirstFd),
                                   "--arena",       std::to_string(kFirstFd + 1),
                                   "--arena-bytes", std::to_string(p->arena_size_),
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
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  // Move the descriptors above every target number first, so that dup2 into 3.. never clobbers a source.
  // The domain holds no descriptor of the user's: its 0, 1 and 2 are /dev/null.
  std::vector<int> high;
  for (int fd : fds) high.push_back(fcntl(fd, F_DUPFD_CLOEXEC, 100));
  close_opened();
  const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  auto close_high = [&] {
    for (int fd : high) {
      if (fd >= 0) ::close(fd);
    }
    if (null_fd >= 0) ::close(null_fd);
  };
  if (null_fd < 0) {
    close_high();
    return make_error(std::string("cannot open /dev/null: ") + std::strerror(errno));
  }
  DomainLimits::protect_supervisor();
  p->limits_ = std::make_unique<DomainLimits>(DomainLimitValues::for_arena(p->arena_size_));
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    close_high();
    return make_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    for (int std_fd = 0; std_fd < 3; ++std_fd) {
      if (dup2(null_fd, std_fd) < 0) _exit(127);
    }
    for (size_t i = 0; i < high.size(); ++i) {
      if (high[i] < 0 || dup2(high[i], kFirstFd + static_cast<int>(i)) < 0) _exit(127);
    }
    syscall(SYS_close_range, kFirstFd + high.size(), ~0u, 0);
    if (!p->limits_->apply_in_child()) _exit(kExitUnconfined);
    execv(config.executable.c_str(), argv.data());
    _exit(127);
  }
  close_high();
  p->pid_ = pid;
  p->bounds_ = config.liveness;
  p->liveness_ = std::make_unique<LivenessMonitor>(p->channel_, p->bounds_);
  p->service_spin_ns_ = config.optimisations.streamlined_crossing ? 20'000 : 0;
  p->service_ = std::thread([raw = p.get()] { raw->service_loop(); });

  // The domain announces itself once the driver is loaded (or failed to load).
  std::unique_lock lock(p->mutex_);
  if (!p->changed_.wait_for(lock, std::chrono::milliseconds(p->bounds_.start_ms),
                            [&] { return p->ready_.has_value() || p->exited_.load(); })) {
    // A start that does not finish is a hung driver like any other unanswered request (destroying it kills it).
    std::string why =
        "the domain process did not load " + p->driver_name_ + " within " + std::to_string(p->bounds_.start_ms) + " ms";
    lock.unlock();
    p->add_fault(SIDE_FAULT_HUNG, why);
    return make_error(why);
  }
  if (!p->ready_) {
    std::string why = p->faults_.empty() ? "" : ": " + p->faults_.back().message;
    return make_error("the domain process ended during start-up" + why);
  }
  if (p->ready_->status != 0) {
    return make_error(std::string(p->ready_->payload.begin(), p->ready_->payload.end()));
  }
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

void DomainProcess::raise_irq(uint32_t irq) {
  if (irq >= 64) return;
  channel_.header().irq_pending.fetch_or(uint64_t{1} << irq);
  ipc::Doorbell(&channel_.header().softirq_bell).ring(ipc::kBellIrq);
}

bool DomainProcess::submit_tx(uint64_t netdev, std::span<const uint8_t> frame) {
  auto h = ipc::encode<ipc::TxFrame>({netdev}, frame);
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
    tx_records_[tx_recorded_++ % tx_records_.size()] = {at, static_cast<uint32_t>(frame.size())};
  }
  ipc::Doorbell(&channel_.header().softirq_bell).ring(ipc::kBellTx);
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
    take(count - static_cast<size_t>(tx_recorded_ - i), std::span<const uint8_t>(frame.data(), r.len));
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
  auto drain = [&] {
    server.set_platform(platform_.load());
    server.set_frame_receiver(receiver_.load());
    return server.drain();
  };
  ipc::Doorbell bell(&channel_.header().supervisor_bell);
  while (!stop_.load()) {
    check_hung();
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
    bell.wait(service_spin_ns_, 5'000'000);
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
  logf(LogLevel::kError, "side: domain %d: driver fault (%s): %s%s%s", static_cast<int>(pid_), r.kind_name.c_str(),
       r.message.c_str(), r.location.empty() ? "" : " at ", r.location.c_str());
  faulty_ = true;
  std::lock_guard lock(mutex_);
  faults_.push_back(std::move(r));
  changed_.notify_all();
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
  auto& c = const_cast<ipc::Channel&>(channel_).header().counters;
  auto get = [&](ipc::DomainCounter i) { return c[i].load(std::memory_order_relaxed); };
  return DomainCounters{get(ipc::kCounterIrqsDelivered), get(ipc::kCounterIrqsHandled),
                        get(ipc::kCounterTraps),         get(ipc::kCounterPatchedAccesses),
                        get(ipc::kCounterSitesPatched),  get(ipc::kCounterSitesRefused)};
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
  // A start that failed before the channel existed has no service thread to wake (and no channel to ring).
  if (!service_.joinable()) return;
  ipc::Doorbell(&channel_.header().supervisor_bell).ring(ipc::kBellEvents);
  service_.join();
}

}  // namespace side::supervisor
