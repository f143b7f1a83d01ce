#include "supervisor/recoverable_domain.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"
#include "common/sanitize.h"

// GCC 12 mistakes the destruction of the spare domain's Result (inlined from std::future) for a free of a non-heap
// object, a known false positive of -Wfree-nonheap-object; the spare is always heap-allocated.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wfree-nonheap-object"
#endif

namespace side::supervisor {
namespace {

using clock = std::chrono::steady_clock;

double ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

Result<std::unique_ptr<RecoverableDomain>> RecoverableDomain::start(Factory factory, RecoveryPolicy policy) {
  std::unique_ptr<RecoverableDomain> r(new RecoverableDomain(std::move(factory), policy));
  auto first = r->factory_(0);
  if (!first) return first.error();
  r->inner_ = std::shared_ptr<DriverDomain>(std::move(*first));
  r->inner_->connect(r.get());
  r->listen_for_faults(*r->inner_);
  r->spawner_ = std::thread([raw = r.get()] { raw->spawner_loop(); });
  // The first spare is started once the driver has opened its device (monitor_loop): starting a process while the
  // driver probes would slow the probe down, each of whose device reads waits for the supervisor.
  r->monitor_ = std::thread([raw = r.get()] { raw->monitor_loop(); });
  return r;
}

RecoverableDomain::~RecoverableDomain() {
  shutdown();
}

std::shared_ptr<DriverDomain> RecoverableDomain::current() const {
  std::lock_guard lock(mu_);
  return inner_;
}

uint64_t RecoverableDomain::inner_token(uint64_t stable) const {
  std::lock_guard lock(mu_);
  for (const auto& n : netdevs_) {
    if (n.stable == stable) return n.inner;
  }
  return stable;
}

uint64_t RecoverableDomain::stable_token(uint64_t inner) const {
  std::lock_guard lock(mu_);
  for (const auto& n : netdevs_) {
    if (n.inner == inner) return n.stable;
  }
  return inner;
}

// ---- DriverDomain -------------------------------------------------------------------------------------------

const char* RecoverableDomain::isolation() const {
  return current()->isolation();
}
int RecoverableDomain::pid() const {
  return current()->pid();
}
uint8_t* RecoverableDomain::arena_base() const {
  return current()->arena_base();
}
uint64_t RecoverableDomain::arena_size() const {
  return current()->arena_size();
}

Result<std::string> RecoverableDomain::load(const domain::LoadRequest& request) {
  auto name = current()->load(request);
  if (name) {
    std::lock_guard lock(mu_);
    driver_ = *name;
  }
  return name;
}

std::optional<uint64_t> RecoverableDomain::translate(ipc::Target target, uint64_t stable) const {
  std::lock_guard lock(mu_);
  if (target == ipc::Target::kNetdev) {
    for (const auto& n : netdevs_) {
      if (n.stable == stable) return n.inner ? std::optional(n.inner) : std::nullopt;
    }
  } else if (target == ipc::Target::kPdev) {
    for (const auto& p : probed_) {
      if (p.stable == stable) return p.inner ? std::optional(p.inner) : std::nullopt;
    }
  } else {
    return stable;  // a device number, or nothing: the same for every generation
  }
  return std::nullopt;
}

Result<ipc::ControlAnswer> RecoverableDomain::transact(const ipc::ControlRequest& request) {
  const ipc::OpInfo op = ipc::control_op_info(request.head.type);
  ipc::ControlRequest inner = request;
  if (op.target != ipc::Target::kNone) {
    // A token this domain never handed out goes through as it is: the driver refuses it.
    inner.target() = translate(op.target, inner.target()).value_or(inner.target());
  }
  auto answer = current()->transact(inner);
  if (answer && answer->status == 0) record(op, request, *answer);
  return answer;
}

// What a successful request changed, as its declaration says: a new PCI device token to keep stable, a state to
// replay on the next generation (the latest of its slot for its target), or a state that no longer needs to be.
void RecoverableDomain::record(const ipc::OpInfo& op, const ipc::ControlRequest& request,
                               const ipc::ControlAnswer& answer) {
  if (op.target == ipc::Target::kNetdev && op.replay == ipc::Replay::kRecord && !opened_.exchange(true)) {
    poke_monitor();  // time for a spare
  }
  uint64_t target = request.head.body[0];
  std::lock_guard lock(mu_);
  if (op.mints_pdev) {
    if (answer.payload.size() != sizeof(uint64_t)) return;  // (decode_reply refuses it to the caller)
    uint64_t pdev;
    std::memcpy(&pdev, answer.payload.data(), sizeof pdev);
    probed_.push_back({static_cast<uint32_t>(target), pdev, pdev});
    target = pdev;
  }
  if (op.replay == ipc::Replay::kNo) return;
  std::erase_if(replay_log_, [&](const Recorded& r) { return r.slot == op.replay_slot && r.target == target; });
  if (op.replay == ipc::Replay::kRecord) {
    replay_log_.push_back({op.replay_slot, target, request});
  } else if (ipc::control_op_info(op.replay_slot).mints_pdev) {
    std::erase_if(probed_, [&](const Probed& p) { return p.stable == target; });
  }
}

void RecoverableDomain::report_fault(int kind, const std::string& message) {
  if (replacing_.load()) return;  // the device's complaints about a domain being replaced are expected
  current()->report_fault(kind, message);
}

void RecoverableDomain::lose_interrupts(unsigned ms) {
  lose_irqs_until_ns_ = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            (clock::now() + std::chrono::milliseconds(ms)).time_since_epoch())
                            .count();
}

void RecoverableDomain::raise_irq(uint32_t irq) {
  if (replacing_.load()) return;  // the device is being reset; the new driver starts from a clean state
  if (lose_irqs_until_ns_.load(std::memory_order_relaxed) >
      std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch()).count()) {
    lost_irqs_.fetch_add(1);
    return;
  }
  current()->raise_irq(irq);
}

// The copies live in each generation's channel: a new one gets them all at take-over (Machine::publish_shadows).
void RecoverableDomain::set_register_shadow(unsigned index, uint32_t key, uint32_t value) {
  current()->set_register_shadow(index, key, value);
}

bool RecoverableDomain::submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload) {
  if (recovering_.load() || gave_up_.load()) return false;
  // The domain and this generation's token under one lock: this runs for every frame.
  std::shared_ptr<DriverDomain> d;
  uint64_t inner = netdev;
  {
    std::lock_guard lock(mu_);
    d = inner_;
    for (const auto& n : netdevs_) {
      if (n.stable == netdev) inner = n.inner;
    }
  }
  if (d->faulty()) return false;
  std::lock_guard lock(journal_mu_);
  if (!d->submit_tx(inner, frame, offload)) return false;
  journal_[submitted_++ % kJournal] = netdev;
  return true;
}

std::vector<domain::FaultReport> RecoverableDomain::faults() const {
  std::vector<domain::FaultReport> out;
  {
    std::lock_guard lock(mu_);
    out = faults_;
  }
  // The current generation's, if it has any not yet handled.
  if (!recovering_.load()) {
    for (auto& f : current()->faults()) out.push_back(f);
  }
  return out;
}

std::vector<RecoveryTimings> RecoverableDomain::recoveries() const {
  std::lock_guard lock(mu_);
  return recoveries_;
}

bool RecoverableDomain::wait_recovered(unsigned timeout_ms) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return !recovering_.load() && (gave_up_.load() || !inner_->faulty()); });
}

Status RecoverableDomain::kill() {
  killed_ns_ = monotonic_ns();  // where detect_ms starts
  return current()->kill();
}

void RecoverableDomain::shutdown() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    changed_.notify_all();  // a back-off wait ends now
  }
  poke_monitor();
  // A restart in progress talks to the new generation: killed, its requests end at once instead of timing out.
  if (recovering_.load()) {
    if (auto d = current()) (void)d->kill();
  }
  if (monitor_.joinable()) monitor_.join();
  if (auto d = current()) d->shutdown();
  discard_standby();
  {
    std::lock_guard lock(spawn_mu_);
    spawn_cv_.notify_all();
  }
  if (spawner_.joinable()) spawner_.join();
}

void RecoverableDomain::poke_monitor() {
  std::lock_guard lock(monitor_mu_);
  monitor_poked_ = true;
  monitor_cv_.notify_one();
}

void RecoverableDomain::listen_for_faults(DriverDomain& d) {
  d.set_fault_listener([this] { poke_monitor(); });
}

void RecoverableDomain::discard_standby() {
  if (!standby_.valid()) return;
  auto spare = standby_.get();
  if (spare) (*spare)->shutdown();
}

void RecoverableDomain::prepare_standby(unsigned generation) {
  std::promise<Result<std::unique_ptr<DriverDomain>>> promise;
  standby_ = promise.get_future();
  spares_asked_.fetch_add(1);
  {
    std::lock_guard lock(spawn_mu_);
    if (spawn_request_) spares_made_.fetch_add(1);  // an unanswered request replaced: nothing will answer it
    spawn_request_.emplace(generation, std::move(promise));
  }
  spawn_cv_.notify_one();
}

void RecoverableDomain::spawner_loop() {
  for (;;) {
    std::unique_lock lock(spawn_mu_);
    spawn_cv_.wait(lock, [&] { return stop_.load() || spawn_request_.has_value(); });
    if (!spawn_request_) return;  // stopping, nothing asked
    auto request = std::move(*spawn_request_);
    spawn_request_.reset();
    lock.unlock();
    request.second.set_value(factory_(request.first));
    spares_made_.fetch_add(1);
  }
}

// ---- Platform ---------------------------------------------------------------------------------------------------

Result<uint32_t> RecoverableDomain::config_read(uint32_t dev, uint32_t offset, unsigned width) {
  return outer_->config_read(dev, offset, width);
}
Status RecoverableDomain::config_write(uint32_t dev, uint32_t offset, unsigned width, uint32_t value) {
  return outer_->config_write(dev, offset, width, value);
}
Result<uint64_t> RecoverableDomain::bar_read(uint32_t dev, int bar, uint64_t offset, unsigned width) {
  return outer_->bar_read(dev, bar, offset, width);
}
Status RecoverableDomain::bar_write(uint32_t dev, int bar, uint64_t offset, unsigned width, uint64_t value) {
  return outer_->bar_write(dev, bar, offset, width, value);
}
int RecoverableDomain::dma_map(uint32_t dev, uint64_t phys, uint64_t size, int dir) {
  return outer_->dma_map(dev, phys, size, dir);
}
int RecoverableDomain::dma_unmap(uint32_t dev, uint64_t phys, uint64_t size, int dir) {
  return outer_->dma_unmap(dev, phys, size, dir);
}

int RecoverableDomain::netdev_register(const side_netdev_info& info) {
  side_netdev_info stable = info;
  bool known = false;
  {
    std::lock_guard lock(mu_);
    for (auto& n : netdevs_) {
      // A restarted driver registers the same device again, under a new token.
      if (n.device == info.device && n.inner == 0) {
        n.inner = info.token;
        stable.token = n.stable;
        known = true;
        break;
      }
    }
    if (!known) {
      Netdev n;
      n.stable = n.inner = info.token;
      n.device = info.device;
      netdevs_.push_back(std::move(n));
    }
  }
  if (known) {
    outer_->netdev_changed(stable);
    return 0;
  }
  return outer_->netdev_register(info);
}

void RecoverableDomain::netdev_unregister(uint64_t token) {
  uint64_t stable = stable_token(token);
  {
    std::lock_guard lock(mu_);
    std::erase_if(netdevs_, [&](const Netdev& n) { return n.stable == stable; });
    std::erase_if(replay_log_, [&](const Recorded& r) {
      return r.target == stable && ipc::control_op_info(r.request.head.type).target == ipc::Target::kNetdev;
    });
  }
  outer_->netdev_unregister(stable);
}

void RecoverableDomain::netdev_carrier(uint64_t token, bool on) {
  if (auto stable = carrier_to_pass(token, on)) outer_->netdev_carrier(*stable, on);
}

std::optional<uint64_t> RecoverableDomain::carrier_to_pass(uint64_t inner, bool on) {
  std::lock_guard lock(mu_);
  for (auto& n : netdevs_) {
    if (n.inner != inner) continue;
    // A driver bringing its device up may switch the carrier on and off again (e1000: on at open, off at the
    // reset that follows, on from its watchdog): only a carrier on after the restart finished ends the hold.
    if (n.carrier_held && (!on || !n.restart_done)) {
      if (on) note_after_restart_locked(true);
      n.off_held = !on;
      return std::nullopt;
    }
    n.carrier_held = n.off_held = false;  // the link is back: the host saw no change
    if (on) note_after_restart_locked(true);
    if (n.host_carrier == on) return std::nullopt;
    n.host_carrier = on;
    return n.stable;
  }
  // A restarted driver may switch its carrier off before it registers its device again (e1000_probe does).
  bool held = false;
  for (auto& n : netdevs_) {
    if (!on && n.carrier_held && n.inner == 0) held = n.off_held = true;
  }
  if (held) return std::nullopt;
  return inner;
}

void RecoverableDomain::release_expired_carrier_holds() {
  std::vector<uint64_t> off;
  {
    std::lock_guard lock(mu_);
    const auto now = clock::now();
    for (auto& n : netdevs_) {
      if (!n.carrier_held || now - n.held_since < kCarrierHold) continue;
      if (n.off_held && n.host_carrier) off.push_back(n.stable);
      if (n.off_held) n.host_carrier = false;
      n.carrier_held = n.off_held = false;
    }
  }
  for (uint64_t stable : off) outer_->netdev_carrier(stable, false);
}

void RecoverableDomain::netdev_changed(const side_netdev_info& info) {
  side_netdev_info stable = info;
  stable.token = stable_token(info.token);
  outer_->netdev_changed(stable);
}

void RecoverableDomain::netdev_tx_wake(uint64_t token, uint32_t queue) {
  outer_->netdev_tx_wake(stable_token(token), queue);
}

// Tags are the supervisor's own: they pass through unchanged (the disk ignores one it no longer has in flight).
void RecoverableDomain::block_done(uint64_t tag, int32_t status) {
  outer_->block_done(tag, status);
}

void RecoverableDomain::netdev_rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) {
  if (await_frame_.load(std::memory_order_relaxed)) note_after_restart(false);
  outer_->netdev_rx(stable_token(token), frame, csum);
}

void RecoverableDomain::set_frame_receiver(domain::FrameReceiver* receiver) {
  outer_rx_.store(receiver);
  current()->set_frame_receiver(receiver ? this : nullptr);
}

void RecoverableDomain::rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) {
  if (await_frame_.load(std::memory_order_relaxed)) note_after_restart(false);
  if (auto* r = outer_rx_.load()) r->rx(stable_token(token), frame, csum);
}

// ---- recovery -----------------------------------------------------------------------------------------------

void RecoverableDomain::monitor_loop() {
  while (!stop_.load()) {
    auto d = current();
    if (d->faulty() && !gave_up_.load()) {
      recover();
      continue;
    }
    release_expired_carrier_holds();
    check_first_transmit();
    if (!spare_requested_.load() && opened_.load() && policy_.spares) {
      prepare_standby(generation_.load() + 1);
      spare_requested_ = true;
    }
    // A fault wakes this at once (listen_for_faults); the timeout paces the other looks (carrier holds, the first
    // transmitted frame after a restart, the first spare).
    const auto pace = monitor_pace();
    std::unique_lock lock(monitor_mu_);
    monitor_cv_.wait_for(lock, pace, [&] { return monitor_poked_; });
    monitor_poked_ = false;
  }
}

// Quick looks while something is being timed (a carrier hold, the first frame after a restart, a spare to start);
// otherwise only a slow safety look, so that a healthy driver's data path is not interrupted 2000 times a second.
std::chrono::microseconds RecoverableDomain::monitor_pace() {
  constexpr std::chrono::microseconds kTiming{500}, kIdle{10000};
  if (await_frame_.load() || (!spare_requested_.load() && opened_.load() && policy_.spares)) return kTiming;
  std::lock_guard lock(mu_);
  for (const auto& n : netdevs_) {
    if (n.carrier_held) return kTiming;
  }
  return kIdle;
}

// The restart policy, for a fault at `now`: true if this fault is one too many (the message says why).
bool RecoverableDomain::give_up_locked(clock::time_point now, const std::string& last_fault) {
  while (!restarts_.empty() && std::chrono::duration<double>(now - restarts_.front()).count() > policy_.window_s) {
    restarts_.pop_front();
  }
  // A driver that ran healthy for healthy_s since its last restart starts counting again.
  if (unhealthy_restarts_ > 0 && std::chrono::duration<double>(now - last_restart_).count() >= policy_.healthy_s) {
    unhealthy_restarts_ = 0;
  }
  const bool in_window = restarts_.size() >= policy_.max_restarts;
  if (!in_window && unhealthy_restarts_ < policy_.max_restarts) return false;
  char buf[192];
  if (in_window) {
    std::snprintf(buf, sizeof buf, "giving up on %s: it failed again after %zu restarts within %.0f s; last fault: ",
                  driver_.empty() ? "the driver" : driver_.c_str(), restarts_.size(), policy_.window_s);
  } else {
    std::snprintf(buf, sizeof buf,
                  "giving up on %s: it failed again after %u restarts without running %.0f s healthy; last fault: ",
                  driver_.empty() ? "the driver" : driver_.c_str(), unhealthy_restarts_, policy_.healthy_s);
  }
  give_up_message_ =
      buf + (last_fault.empty() ? std::string("(none reported)") : last_fault) + "; the device stays down";
  return true;
}

// The wait before this restart: doubling while the driver keeps failing, back to the start once it ran healthy.
double RecoverableDomain::next_backoff_locked() {
  if (policy_.backoff_start_ms <= 0) return backoff_ms_ = 0;
  const bool healthy = unhealthy_restarts_ == 0;  // (give_up_locked() reset it if the driver ran healthy)
  backoff_ms_ = healthy ? policy_.backoff_start_ms
                        : std::min(policy_.backoff_max_ms, std::max(policy_.backoff_start_ms, 2 * backoff_ms_));
  return backoff_ms_;
}

bool RecoverableDomain::sleep_unless_stopped(double ms) {
  std::unique_lock lock(mu_);
  return !changed_.wait_for(lock, std::chrono::duration<double, std::milli>(ms), [&] { return stop_.load(); });
}

std::string RecoverableDomain::give_up_message() const {
  std::lock_guard lock(mu_);
  return give_up_message_;
}

// Files the old generation's faults in the (bounded) history and decides, under the policy, whether to restart
// (then with what back-off) or to give up.
bool RecoverableDomain::account_restart(clock::time_point start, const std::vector<domain::FaultReport>& old_faults,
                                        RecoveryTimings& t, double& backoff) {
  if (!old_faults.empty()) {
    t.kind = old_faults.back().kind;
    t.reason = old_faults.back().message;
  }
  std::lock_guard lock(mu_);
  faults_.insert(faults_.end(), old_faults.begin(), old_faults.end());
  // History is kept, but bounded: a driver restarted forever must not grow the supervisor forever.
  if (faults_.size() > kHistory) faults_.erase(faults_.begin(), faults_.end() - kHistory);
  const std::string last =
      old_faults.empty() ? "" : domain::fault_kind_name(old_faults.back().kind) + std::string(": ") + t.reason;
  if (give_up_locked(start, last)) return false;
  backoff = next_backoff_locked();
  restarts_.push_back(start);
  ++unhealthy_restarts_;
  return true;
}

// The policy gave up: the device stays down (no DMA into memory nobody owns) and the domain stays faulty.
void RecoverableDomain::stop_for_good() {
  if (machine_) {
    machine_->quiesce();
    machine_->hold_received_frames(false);
  }
  logf(LogLevel::kError, "side: %s", give_up_message().c_str());
  std::vector<uint64_t> down;
  {
    std::lock_guard lock(mu_);
    for (auto& n : netdevs_) {
      n.carrier_held = n.off_held = false;
      if (n.host_carrier) down.push_back(n.stable);
      n.host_carrier = false;
    }
  }
  for (uint64_t stable : down) outer_->netdev_carrier(stable, false);  // no driver: no link
  gave_up_ = true;
  replacing_ = false;
  recovering_ = false;
  std::lock_guard lock(mu_);
  changed_.notify_all();
}

// The dead driver's devices and network devices are forgotten (the host interfaces stay).
void RecoverableDomain::forget_old_generation() {
  std::lock_guard lock(mu_);
  const auto now = clock::now();
  for (auto& n : netdevs_) {
    n.inner = 0;
    n.carrier_held = true;
    n.off_held = n.restart_done = false;
    n.held_since = now;
  }
  for (auto& p : probed_) p.inner = 0;
}

// The spare started ahead of need, or a fresh domain if there is none; one more try if the spare failed.
Result<std::unique_ptr<DriverDomain>> RecoverableDomain::next_generation(unsigned gen) {
  auto fresh = standby_.valid() ? standby_.get() : factory_(gen);
  if (!fresh && !stop_.load()) fresh = factory_(gen);
  return fresh;
}

void RecoverableDomain::recover() {
  const auto start = clock::now();
  const uint64_t start_ns = monotonic_ns();
  recovering_ = true;
  replacing_ = true;
  // The driver is gone: what arrives from the wire from now on is kept for the next one, not written into the dead
  // one's ring.
  if (machine_) machine_->hold_received_frames(true);
  RecoveryTimings t;
  std::shared_ptr<DriverDomain> old = current();
  double backoff = 0;
  const auto old_faults = old->faults();
  begin_timing(old_faults, start_ns, t);
  const bool restart = account_restart(start, old_faults, t, backoff);
  auto step = clock::now();
  auto lap = [&](double& field) {
    auto now = clock::now();
    field = ms_between(step, now);
    step = now;
  };
  lap(t.mark_ms);
  // stop: the process ends; its timers, NAPI, work and interrupt handling with it.
  (void)old->kill();
  old->shutdown();
  lap(t.stop_ms);
  if (!restart) return stop_for_good();
  logf(LogLevel::kWarning, "side: restarting the driver (%s)%s", t.reason.c_str(),
       backoff > 0 ? (" in " + std::to_string(static_cast<int>(backoff)) + " ms").c_str() : "");
  t.backoff_policy_ms = backoff;
  if (backoff > 0) {
    if (!sleep_unless_stopped(backoff)) {
      recovering_ = false;
      return;
    }
    lap(t.backoff_ms);
  }
  // wait: a PCI reset, so no DMA is in flight; its mappings are dropped with it, before anything is reused.
  if (machine_) machine_->quiesce();
  lap(t.wait_ms);
  const auto requeue = take_unsent(*old);
  if (!policy_.spares) old->release();  // its successor cannot exist beside it
  old.reset();
  lap(t.free_ms);
  forget_old_generation();
  lap(t.unregister_ms);
  const unsigned gen = generation_.load() + 1;
  auto fresh = next_generation(gen);
  lap(t.reload_ms);
  if (!fresh) {
    t.error = "reload: " + fresh.error().message;
  } else {
    take_over(std::shared_ptr<DriverDomain>(std::move(*fresh)), gen, requeue, t);
  }
  replacing_ = false;
  lap(t.restart_ms);
  finish_recovery(start, t);
}

// The new generation takes over a device that no longer holds anything of the old one: the IOMMU serves its arena
// only (no mapping of the old generation survives) before it is connected and can ask for anything.
void RecoverableDomain::take_over(std::shared_ptr<DriverDomain> d, unsigned gen,
                                  const std::vector<RecoverableDomain::Unsent>& requeue, RecoveryTimings& t) {
  if (machine_) machine_->rebind(d->arena_base(), d->arena_size(), d->arena_fd());
  d->release_log();  // the spare is the driver now: what it logged while waiting is heard, marked as the spare's
  d->connect(this);
  listen_for_faults(*d);
  d->set_frame_receiver(outer_rx_.load() ? this : nullptr);
  {
    std::lock_guard lock(mu_);
    inner_ = d;
    last_restart_ = clock::now();
    // From here on, the new driver's carrier and frames are timed. Built by aggregate initialisation: clang cannot
    // default-construct a nested struct with member initialisers inside std::optional (is_constructible is false).
    after_ = AfterRestart{nic_tx_base_, std::nullopt, std::nullopt, std::nullopt};
    await_frame_ = true;
  }
  if (machine_) machine_->publish_shadows();  // before the new driver's first read
  generation_ = gen;
  replacing_ = false;
  if (auto s = restart(t); !s) t.error = "restart: " + s.error().message;
  if (!stop_.load() && policy_.spares) {
    prepare_standby(gen + 1);
    spare_requested_ = true;
  }
  requeue_unsent(*d, requeue, t);
}

// Submitted but never sent: to the new driver, in order (and into the journal, as any submission). The new driver
// takes them as fast as it transmits: a full queue is waited for, 200 ms at most for them all (the host's own
// submissions wait on journal_mu_ meanwhile), and what does not fit by then is lost as a dead driver's frames are.
void RecoverableDomain::requeue_unsent(DriverDomain& d, const std::vector<RecoverableDomain::Unsent>& requeue,
                                       RecoveryTimings& t) {
  const auto deadline = clock::now() + std::chrono::milliseconds(200);
  std::lock_guard lock(journal_mu_);
  for (auto& [netdev, frame, offload] : requeue) {
    bool taken = false;
    while (!(taken = d.submit_tx(inner_token(netdev), frame, offload)) && !d.faulty() && clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (!taken) break;
    journal_[submitted_++ % kJournal] = netdev;
    ++t.requeued;
  }
}

// Frames submitted to the failed generation that its NIC never sent, oldest first, read back from where the old
// generation's transport kept them (copied once, here, for the new one); the journal starts afresh.
std::vector<RecoverableDomain::Unsent> RecoverableDomain::take_unsent(DriverDomain& old) {
  std::vector<RecoverableDomain::Unsent> requeue;
  std::lock_guard lock(journal_mu_);
  uint64_t sent = machine_ && machine_->device_count() ? machine_->nic_tx_packets() - nic_tx_base_ : 0;
  uint64_t unsent = submitted_ > sent ? submitted_ - sent : 0;
  if (unsent <= kJournal && unsent <= submitted_) {
    const uint64_t first = submitted_ - unsent;
    old.recent_tx(unsent, [&](size_t i, std::span<const uint8_t> frame, const side_tx_offload& offload) {
      requeue.push_back({journal_[(first + i) % kJournal], std::vector<uint8_t>(frame.begin(), frame.end()), offload});
    });
  }
  submitted_ = 0;
  nic_tx_base_ = machine_ && machine_->device_count() ? machine_->nic_tx_packets() : 0;
  return requeue;
}

void RecoverableDomain::finish_recovery(clock::time_point start, RecoveryTimings& t) {
  // The restart is over: frames held for the new driver are its, or (it never took its receiver) lost.
  if (machine_) machine_->hold_received_frames(false);
  {
    std::lock_guard lock(mu_);
    for (auto& n : netdevs_) n.restart_done = true;
  }
  t.total_ms = ms_between(start, clock::now());
  t.ok = t.error.empty();
  if (!t.ok) {
    logf(LogLevel::kError, "side: recovery failed: %s", t.error.c_str());
  } else {
    logf(LogLevel::kWarning,
         "side: driver restarted in %.1f ms (detect %.1f; back-off %.1f, stop %.1f, wait %.1f, free %.1f, reload "
         "%.1f, restart %.1f: probe %.1f, configure %.1f, open %.1f); %llu frames requeued",
         t.total_ms, t.detect_ms, t.backoff_ms, t.stop_ms, t.wait_ms, t.free_ms, t.reload_ms, t.restart_ms, t.probe_ms,
         t.configure_ms, t.open_ms, static_cast<unsigned long long>(t.requeued));
  }
  std::lock_guard lock(mu_);
  recoveries_.push_back(t);
  if (recoveries_.size() > kHistory) recoveries_.erase(recoveries_.begin());
  if (after_ && t.ok) {
    after_->end = clock::now();
    fill_after_restart_locked();
  } else {
    after_.reset();
    await_frame_ = false;
  }
  recovering_ = false;
  changed_.notify_all();
}

void RecoverableDomain::begin_timing(const std::vector<domain::FaultReport>& faults, uint64_t start_ns,
                                     RecoveryTimings& t) {
  {
    std::lock_guard lock(mu_);
    after_.reset();  // the previous restart's link or first frame never came: unmeasured
    await_frame_ = false;
  }
  if (const uint64_t began = fault_began_ns(faults, start_ns)) t.detect_ms = (start_ns - began) / 1e6;
}

uint64_t RecoverableDomain::fault_began_ns(const std::vector<domain::FaultReport>& faults, uint64_t start_ns) {
  const uint64_t killed = killed_ns_.exchange(0);
  if (killed && killed <= start_ns) return killed;
  uint64_t first = 0;
  for (const auto& f : faults) {
    if (f.at_ns && f.at_ns <= start_ns && (!first || f.at_ns < first)) first = f.at_ns;
  }
  return first;
}

void RecoverableDomain::note_after_restart(bool link) {
  std::lock_guard lock(mu_);
  note_after_restart_locked(link);
}

void RecoverableDomain::note_after_restart_locked(bool link) {
  if (!after_) return;
  auto& at = link ? after_->link_at : after_->frame_at;
  if (at) return;
  at = clock::now();
  if (!link) await_frame_ = false;
  fill_after_restart_locked();
}

// Once the restart has ended: the link and first frame of the last recovery, from its end (0 if they came first).
void RecoverableDomain::fill_after_restart_locked() {
  if (!after_ || !after_->end || recoveries_.empty()) return;
  RecoveryTimings& t = recoveries_.back();
  auto since_end = [&](clock::time_point at) { return std::max(0.0, ms_between(*after_->end, at)); };
  if (after_->link_at) t.link_ms = since_end(*after_->link_at);
  if (after_->frame_at) {
    t.first_frame_ms = since_end(*after_->frame_at);
    if (t.detect_ms >= 0) t.flowing_ms = t.detect_ms + t.total_ms + t.first_frame_ms;
  }
  if (after_->link_at && after_->frame_at) after_.reset();
}

void RecoverableDomain::check_first_transmit() {
  if (!await_frame_.load() || !machine_ || !machine_->device_count()) return;
  uint64_t base;
  {
    std::lock_guard lock(mu_);
    if (!after_) return;
    base = after_->nic_tx;
  }
  if (machine_->nic_tx_packets() > base) note_after_restart(false);
}

// Replays what the previous generations were asked to do and still matters, in the order it was asked (devices
// attached and probed, then each interface's configuration, as a shadow driver would), interfaces brought up last
// (kReplayLast), with this generation's tokens.
Status RecoverableDomain::restart(RecoveryTimings& t) {
  auto d = current();
  std::vector<Recorded> log;
  {
    std::lock_guard lock(mu_);
    log = replay_log_;
  }
  std::stable_partition(log.begin(), log.end(),
                        [](const Recorded& r) { return !ipc::control_op_info(r.request.head.type).replay_last; });
  for (auto& r : log) {
    const ipc::OpInfo op = ipc::control_op_info(r.request.head.type);
    if (op.target != ipc::Target::kNone && !op.mints_pdev) {
      auto inner = translate(op.target, r.target);
      if (!inner) return make_error("the restarted driver did not register its network device again");
      r.request.target() = *inner;
    }
    const auto began = clock::now();
    auto answer = d->transact(r.request);
    const double took = ms_between(began, clock::now());
    const uint16_t type = r.request.head.type;
    (type == SIDE_MSG_ATTACH_DEVICE || op.mints_pdev ? t.probe_ms
     : op.replay_last                                ? t.open_ms
                                                     : t.configure_ms) += took;
    if (!answer) return answer.error();
    if (answer->status != 0) {
      return make_error(std::string(op.name) + ": " + sanitize_text(answer->payload, ipc::kMaxText));
    }
    if (op.mints_pdev && answer->payload.size() == sizeof(uint64_t)) {
      uint64_t pdev;
      std::memcpy(&pdev, answer->payload.data(), sizeof pdev);
      std::lock_guard lock(mu_);
      for (auto& q : probed_) {
        if (q.stable == r.target) q.inner = pdev;
      }
    }
  }
  std::lock_guard lock(mu_);
  for (const auto& n : netdevs_) {
    if (n.inner == 0) return make_error("the restarted driver did not register its network device again");
  }
  return {};
}

}  // namespace side::supervisor
