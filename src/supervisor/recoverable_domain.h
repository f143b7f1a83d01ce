// A driver domain that recovers: when the domain in use fails (a detected fault, a forbidden system call, an IOMMU
// fault, a hung entry point, an interrupt storm, a dead process), it is replaced by a fresh one, SIDE's recovery
// made fast and transparent:
//   mark      the domain is faulty: no more submissions reach it (the host's frames wait in their queues)
//   stop      its process is killed: timers, polling, work and interrupts end with it
//   wait      the devices are quiesced (a PCI reset), so no DMA is in flight
//   free      everything it held is reclaimed: its memory and descriptors with the process, its DMA mappings
//   unregister  the host forgets the dead driver's network devices (the host interfaces stay)
//   reload    a new domain process loads the kernel-API layer and the driver
//   restart   devices attached and probed, network devices opened, configuration replayed (MAC, MTU, receive
//             mode), and the transmit frames that were submitted but never left the NIC requeued
// Each step is timed (SIDE's Table VI). To the rest of the supervisor this is one domain whose network devices keep
// their tokens: it translates between those stable tokens and each generation's own.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "common/adaptive_mutex.h"
#include "supervisor/driver_domain.h"
#include "supervisor/machine.h"

namespace side::supervisor {

struct RecoveryTimings {
  int kind = 0;                  // the fault that started it
  std::string reason;            // its message
  double backoff_policy_ms = 0;  // how long the policy had the restart wait first
  double backoff_ms = 0;         // how long it did wait (measured)
  double mark_ms = 0, stop_ms = 0, wait_ms = 0, free_ms = 0, unregister_ms = 0, reload_ms = 0, restart_ms = 0;
  double total_ms = 0;
  // Where the time goes, beyond Table VI's steps (ms; a negative figure was not measured):
  //   detect_ms     from the supervisor's kill of the domain (or, for a fault it did not cause, the moment the fault
  //                 was recorded) until recovery began: noticing the death, and the monitor's reaction
  //   probe_ms, configure_ms, open_ms   restart_ms split: attach and probe; the configuration replayed; the open
  //   link_ms       from the restart's end until the new driver reported its carrier on
  //   first_frame_ms  from the restart's end until the first frame went through the new driver (either direction)
  //   flowing_ms    detect_ms + total_ms + first_frame_ms: from the kill to traffic flowing again
  double detect_ms = -1, probe_ms = 0, configure_ms = 0, open_ms = 0, link_ms = -1, first_frame_ms = -1;
  double flowing_ms = -1;
  uint64_t requeued = 0;  // transmit frames submitted again to the new driver
  bool ok = false;
  std::string error;
};

// When to restart a failed driver, and when to stop trying (systemd's StartLimitBurst and StartLimitIntervalSec,
// with the restart delay growing as RestartSteps does). The defaults are for a driver nobody is testing: one that
// keeps failing is left down, with a message, rather than restarted forever.
struct RecoveryPolicy {
  unsigned max_restarts = 5;  // restarts within `window_s`; the next fault in the window gives up
  double window_s = 10;
  // The wait before a restart: backoff_start_ms after the first fault, doubling with each fault that follows
  // before the driver has run healthy for `healthy_s`, at most backoff_max_ms.
  double backoff_start_ms = 10;
  double backoff_max_ms = 5000;
  double healthy_s = 30;

  // For callers that fault the driver on purpose (`side inject`, `side bench`, --crash-every): `restarts` are
  // expected, so they are all allowed, without back-off (a campaign measures restart times).
  // False: one domain at a time (in-process sfi domains cannot coexist: their regions are fixed). No spare is
  // started ahead of need; a restart releases the old generation before it makes the new one.
  bool spares = true;

  static RecoveryPolicy for_deliberate_faults(unsigned restarts) {
    RecoveryPolicy p;
    p.max_restarts = restarts;
    p.window_s = 24 * 3600;
    p.backoff_start_ms = 0;
    p.backoff_max_ms = 0;
    return p;
  }
};

class RecoverableDomain final : public DriverDomain, public domain::Platform, private domain::FrameReceiver {
 public:
  // Makes a new domain (generation) with the driver loaded; `generation` counts from 0.
  using Factory = std::function<Result<std::unique_ptr<DriverDomain>>(unsigned generation)>;

  static Result<std::unique_ptr<RecoverableDomain>> start(Factory factory, RecoveryPolicy policy);
  ~RecoverableDomain() override;

  // The machine whose devices the domains drive (for quiescing and rebinding); set once, before attaching.
  void set_machine(Machine* machine) { machine_ = machine; }

  std::vector<RecoveryTimings> recoveries() const;
  unsigned generation() const override { return generation_.load(); }
  bool gave_up() const { return gave_up_.load(); }
  // Why side gave up (driver, restarts, last fault); empty while it has not.
  std::string give_up_message() const;
  // Waits until no recovery is in progress (at most `timeout_ms`); false on timeout.
  bool wait_recovered(unsigned timeout_ms);
  bool recovering() const override { return recovering_.load(); }
  // Waits until the spare for the next restart has started (at most `timeout_ms`). The first spare is asked for
  // once the driver has opened its device.
  // Only counters are read here: standby_ belongs to the monitor thread, which replaces it at every restart.
  bool wait_spare(unsigned timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      const bool asked = spare_requested_.load() || !opened_.load();
      if (asked && spares_made_.load() == spares_asked_.load()) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // DriverDomain
  const char* isolation() const override;
  int pid() const override;
  uint8_t* arena_base() const override;
  int arena_fd() const override { return current()->arena_fd(); }
  uint64_t arena_size() const override;
  void connect(domain::Platform* platform) override { outer_ = platform; }
  // Each generation hands its frames to this domain, which names them by their stable token.
  void set_frame_receiver(domain::FrameReceiver* receiver) override;
  Result<std::string> load(const domain::LoadRequest& request) override;
  // Every control operation: its tokens translated to the current generation's, and recorded for replay after a
  // restart as its declaration says (ipc/messages.h: kReplay, kReplaySlot, kTarget).
  Result<ipc::ControlAnswer> transact(const ipc::ControlRequest& request) override;
  // Fault injection: interrupts raised during the next `ms` are lost; returns how many were lost so far.
  void lose_interrupts(unsigned ms);
  uint64_t lost_interrupts() const { return lost_irqs_.load(); }
  void report_fault(int kind, const std::string& message) override;
  void raise_irq(uint32_t irq) override;
  void set_register_shadow(unsigned index, uint32_t key, uint32_t value) override;
  bool submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload = {}) override;
  bool faulty() const override { return gave_up_.load(); }
  std::vector<domain::FaultReport> faults() const override;
  // The current domain's (they start again from zero with every restart).
  std::optional<DomainCounters> counters() const override { return current()->counters(); }
  std::optional<CrossingCounts> crossings() const override { return current()->crossings(); }
  void shutdown() override;
  Status kill() override;

  // Platform: what the current generation's driver does, with its tokens made stable.
  Result<uint32_t> config_read(uint32_t dev, uint32_t offset, unsigned width) override;
  Status config_write(uint32_t dev, uint32_t offset, unsigned width, uint32_t value) override;
  Result<uint64_t> bar_read(uint32_t dev, int bar, uint64_t offset, unsigned width) override;
  Status bar_write(uint32_t dev, int bar, uint64_t offset, unsigned width, uint64_t value) override;
  int dma_map(uint32_t dev, uint64_t phys, uint64_t size, int dir) override;
  int dma_unmap(uint32_t dev, uint64_t phys, uint64_t size, int dir) override;
  int netdev_register(const side_netdev_info& info) override;
  void netdev_unregister(uint64_t token) override;
  void netdev_carrier(uint64_t token, bool on) override;
  void netdev_changed(const side_netdev_info& info) override;
  void netdev_tx_wake(uint64_t token, uint32_t queue) override;
  void netdev_rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) override;
  void block_done(uint64_t tag, int32_t status) override;

 private:
  // A frame submitted to a failed generation that its NIC never sent: its stable device, bytes and offloads.
  struct Unsent {
    uint64_t netdev;
    std::vector<uint8_t> frame;
    side_tx_offload offload;
  };
  RecoverableDomain(Factory factory, RecoveryPolicy policy) : factory_(std::move(factory)), policy_(policy) {}
  // How long a restarted driver may take to report its link up again before the host is told the carrier is
  // off: Debian's e1000 reports it within milliseconds of its open; this covers a loaded machine.
  static constexpr std::chrono::milliseconds kCarrierHold{3000};
  struct Netdev {
    uint64_t stable = 0, inner = 0;
    uint32_t device = ~0u;
    // A restart is not a link change: from the fault until the new generation reports its carrier on again
    // (at most kCarrierHold), a carrier off is held back, as a shadow driver would, so that the host interface
    // keeps queueing frames instead of dropping them and TCP does not back off across every restart.
    bool carrier_held = false, off_held = false, restart_done = false;
    bool host_carrier = false;  // what the host was last told
    std::chrono::steady_clock::time_point held_since{};
  };
  // A control request that changed the driver's state, kept to be replayed on the next generation: the latest of
  // its slot for its target (a stable token, or a device number).
  struct Recorded {
    uint16_t slot;
    uint64_t target;
    ipc::ControlRequest request;
  };
  struct Probed {
    uint32_t device;
    uint64_t stable, inner;  // pci_dev tokens: the first generation's, and this one's
  };
  std::shared_ptr<DriverDomain> current() const;
  uint64_t inner_token(uint64_t stable) const;
  uint64_t stable_token(uint64_t inner) const;
  // This generation's token for a stable one the declaration's kTarget names; nullopt if it has none (yet).
  std::optional<uint64_t> translate(ipc::Target target, uint64_t stable) const;
  void record(const ipc::OpInfo& op, const ipc::ControlRequest& request, const ipc::ControlAnswer& answer);
  void monitor_loop();
  void recover();
  // The steps of recover().
  bool account_restart(std::chrono::steady_clock::time_point start, const std::vector<domain::FaultReport>& faults,
                       RecoveryTimings& t, double& backoff);
  void stop_for_good();
  void forget_old_generation();
  // A held carrier off the new generation did not take back within kCarrierHold reaches the host now.
  void release_expired_carrier_holds();
  // Whether the carrier change of `inner` is held back (a restart in progress); the stable token otherwise.
  std::optional<uint64_t> carrier_to_pass(uint64_t inner, bool on);
  Result<std::unique_ptr<DriverDomain>> next_generation(unsigned gen);
  void take_over(std::shared_ptr<DriverDomain> d, unsigned gen, const std::vector<Unsent>& requeue, RecoveryTimings& t);
  std::vector<Unsent> take_unsent(DriverDomain& old);
  void requeue_unsent(DriverDomain& d, const std::vector<Unsent>& requeue, RecoveryTimings& t);
  void finish_recovery(std::chrono::steady_clock::time_point start, RecoveryTimings& t);
  Status restart(RecoveryTimings& t);
  // When the fault that began the recovery at `start_ns` happened: the supervisor's kill, or the first fault
  // recorded (0 if neither is known).
  uint64_t fault_began_ns(const std::vector<domain::FaultReport>& faults, uint64_t start_ns);
  void begin_timing(const std::vector<domain::FaultReport>& faults, uint64_t start_ns, RecoveryTimings& t);
  // After a restart: the new driver's carrier came on (`link`), or a frame went through it. Fills in the last
  // recovery's link_ms / first_frame_ms the first time each happens.
  void note_after_restart(bool link);
  void note_after_restart_locked(bool link);
  // The monitor's check for the first transmitted frame (the NIC's count moved since the restart's end).
  void check_first_transmit();

  void prepare_standby(unsigned generation);
  __attribute__((noinline)) void discard_standby();

  Factory factory_;
  RecoveryPolicy policy_;
  // The next generation, started ahead of need (driver loaded and initialised, no device yet): a restart then
  // costs a probe and an open, not a process start and a module load.
  // A domain process dies with the thread that started it (its parent-death signal), so spares are started by a
  // thread that lives as long as this object.
  std::future<Result<std::unique_ptr<DriverDomain>>> standby_;  // the monitor thread's
  std::atomic<bool> opened_{false};                             // the driver opened a device: time for a spare
  std::atomic<unsigned> spares_asked_{0}, spares_made_{0};      // standby_ requests and their answers
  std::atomic<bool> spare_requested_{false};                    // standby_ has been asked for at least once
  std::thread spawner_;
  std::mutex spawn_mu_;
  std::condition_variable spawn_cv_;
  std::optional<std::pair<unsigned, std::promise<Result<std::unique_ptr<DriverDomain>>>>> spawn_request_;
  void spawner_loop();
  Machine* machine_ = nullptr;
  domain::Platform* outer_ = nullptr;
  std::atomic<domain::FrameReceiver*> outer_rx_{nullptr};
  // domain::FrameReceiver: a generation's received frame, to the outer receiver under its stable token.
  void rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) override;

  // Taken on every frame submitted and interrupt raised (the peer's thread against vCPU 1): spins before it sleeps.
  mutable AdaptiveMutex mu_;  // everything below but the atomics
  std::shared_ptr<DriverDomain> inner_;
  std::vector<Recorded> replay_log_;
  std::vector<Probed> probed_;
  std::vector<Netdev> netdevs_;
  std::vector<RecoveryTimings> recoveries_;
  std::vector<domain::FaultReport> faults_;
  std::deque<std::chrono::steady_clock::time_point> restarts_;
  std::chrono::steady_clock::time_point last_restart_{};  // when the current generation took over
  // Restarts since the driver last ran healthy (policy healthy_s): the give-up must not depend on how long a
  // restart takes, or a driver whose restarts (back-off included) outlast window_s / max_restarts is never given up.
  unsigned unhealthy_restarts_ = 0;
  double backoff_ms_ = 0;  // the last restart's delay; 0 once the driver was healthy
  std::string driver_;     // its name, once loaded
  std::string give_up_message_;
  bool give_up_locked(std::chrono::steady_clock::time_point now, const std::string& last_fault);
  double next_backoff_locked();
  bool sleep_unless_stopped(double ms);
  std::condition_variable_any changed_;

  // Transmit journal, to requeue what a dead driver never sent: the stable network device of each recent
  // submission. The frames themselves are referenced where the generation's transport keeps them
  // (DriverDomain::recent_tx: a domain process's transmit ring), not copied here.
  static constexpr size_t kJournal = 4096;
  static constexpr size_t kHistory = 4096;  // recoveries and faults remembered
  AdaptiveMutex journal_mu_;                // held across each submission, so the journal is in ring order
  std::vector<uint64_t> journal_ = std::vector<uint64_t>(kJournal);
  uint64_t submitted_ = 0;    // this generation (requeued frames included)
  uint64_t nic_tx_base_ = 0;  // the NIC's finished-packet count when this generation started

  // The breakdown of the last recovery still measuring what follows it (link, first frame); under mu_.
  struct AfterRestart {
    uint64_t nic_tx = 0;  // the NIC's finished packets when the new generation took over
    std::optional<std::chrono::steady_clock::time_point> end, link_at, frame_at;
  };
  void fill_after_restart_locked();
  std::optional<AfterRestart> after_;
  std::atomic<bool> await_frame_{false};  // after_ waits for a first frame: checked on every received one
  std::atomic<uint64_t> killed_ns_{0};    // when kill() last ended the domain (monotonic_ns), 0 if not since

  std::atomic<unsigned> generation_{0};
  std::atomic<bool> recovering_{false};
  std::atomic<bool> replacing_{false};
  std::atomic<int64_t> lose_irqs_until_ns_{0};
  std::atomic<uint64_t> lost_irqs_{0};  // between the old domain's end and the new one's start
  std::atomic<bool> gave_up_{false};
  std::atomic<bool> stop_{false};
  std::thread monitor_;
  // The monitor sleeps between its looks unless a generation reports a fault (set_fault_listener) or shutdown.
  std::mutex monitor_mu_;
  std::condition_variable monitor_cv_;
  bool monitor_poked_ = false;  // under monitor_mu_
  void poke_monitor();
  std::chrono::microseconds monitor_pace();
  void listen_for_faults(DriverDomain& d);
};

}  // namespace side::supervisor
