// A driver domain in its own sandboxed process (isolation "process", the default).
//
// The supervisor creates the domain's memory (the DMA-able arena and the channel of rings, both memfds), opens
// the kernel-API layer, Module.symvers and the driver with its dependencies, and starts `side __domain` with only
// those descriptors. A service thread then answers the domain's device requests (through the Machine, i.e. the
// device models and IOMMUs), relays its network events and frames, and watches the process. Everything the domain
// sends is validated; a message that makes no sense, a broken ring or a dead process makes the domain faulty, and
// the supervisor carries on.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ipc/channel.h"
#include "ipc/optimisations.h"
#include "supervisor/channel_server.h"
#include "supervisor/domain_limits.h"
#include "supervisor/driver_domain.h"
#include "supervisor/liveness.h"

namespace side::supervisor {

struct DomainProcessConfig {
  std::string kapi_path, symvers_path, modules_dir;
  uint64_t arena_bytes = 64ull << 20;
  bool virtual_time = true;
  ipc::Optimisations optimisations;
  std::string executable = "/proc/self/exe";  // a `side` binary
  // How long the supervisor waits for the domain, on its own clock (liveness.h): every bound in one place.
  LivenessBounds liveness;
  // A spare, started ahead of need: its log is kept until release_log() (never printed if it is not used).
  bool log_held = false;
};

class DomainProcess final : public DriverDomain {
 public:
  // Starts the process with `driver` (and its dependencies) loaded and initialised.
  static Result<std::unique_ptr<DomainProcess>> start(const DomainProcessConfig& config,
                                                      const domain::LoadRequest& driver);
  ~DomainProcess() override;

  const char* isolation() const override { return "process"; }
  int pid() const override { return static_cast<int>(pid_); }
  uint8_t* arena_base() const override { return arena_; }
  uint64_t arena_size() const override { return arena_size_; }
  int arena_fd() const override { return arena_fd_; }
  void connect(domain::Platform* platform) override { platform_.store(platform); }
  void set_frame_receiver(domain::FrameReceiver* receiver) override { receiver_.store(receiver); }
  Result<std::string> load(const domain::LoadRequest& request) override;
  Result<ipc::ControlAnswer> transact(const ipc::ControlRequest& request) override;
  void report_fault(int kind, const std::string& message) override { add_fault(kind, message); }
  void raise_irq(uint32_t irq) override;
  void set_register_shadow(unsigned index, uint32_t key, uint32_t value) override;
  bool submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload = {}) override;
  // From the transmit ring itself: it keeps half its slots of history (ipc::Ring::keep_history).
  size_t recent_tx(size_t count, const RecentFrame& take) override;
  bool faulty() const override { return faulty_.load(); }
  void set_fault_listener(std::function<void()> listener) override;
  std::vector<domain::FaultReport> faults() const override;
  std::optional<DomainCounters> counters() const override;
  std::optional<CrossingCounts> crossings() const override { return crossings_.snapshot(); }
  void shutdown() override;

  // Ends the process at once (SIGKILL), as a crash would.
  Status kill() override;
  bool alive() const { return !exited_.load(); }
  void release_log() override { log_release_ = true; }

 private:
  DomainProcess() = default;
  struct Reply {
    int64_t status = 0;
    std::vector<uint8_t> payload;
  };
  using ModuleFiles = std::vector<std::pair<std::string, std::string>>;  // (name, path), dependencies first
  // The steps of start().
  Status create_shared_memory(uint64_t arena_bytes);
  Status spawn(const DomainProcessConfig& config, const domain::LoadRequest& driver, const ModuleFiles& modules);
  Status wait_until_ready();
  void service_loop();
  void add_fault(int kind, std::string message, std::string location = "");
  void check_exit();
  // A thread waiting on the process's pidfd: its death wakes the service thread at once (check_exit), rather
  // than at its next timeout.
  void watch_exit();
  std::thread exit_watcher_;
  std::function<void()> fault_listener_;  // under mutex_

  void check_hung();
  void hung_request(const char* what, unsigned bound_ms);
  LivenessBounds bounds_;
  std::unique_ptr<LivenessMonitor> liveness_;  // the service thread's
  uint64_t service_spin_ns_ = 0;               // how long the service thread polls before it sleeps
  pid_t pid_ = -1;
  std::string driver_name_;
  int arena_fd_ = -1, channel_fd_ = -1;
  uint8_t* arena_ = nullptr;
  uint64_t arena_size_ = 0;
  void* shared_ = nullptr;
  size_t shared_size_ = 0;
  ipc::Channel channel_;
  std::unique_ptr<DomainLimits> limits_;  // its cgroup goes once the process is reaped (destruction)

  std::atomic<domain::Platform*> platform_{nullptr};
  std::atomic<domain::FrameReceiver*> receiver_{nullptr};
  std::thread service_;
  CrossingCounters crossings_;
  void ring_domain(uint32_t bits);
  std::atomic<bool> stop_{false};
  std::atomic<bool> exited_{false};
  std::atomic<bool> faulty_{false};
  bool log_held_ = false;                 // set before the service thread starts
  std::atomic<bool> log_release_{false};  // asked by release_log(), done on the service thread

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<uint64_t, Reply> replies_;
  std::optional<Reply> ready_;
  std::vector<domain::FaultReport> faults_;
  uint64_t next_cookie_ = 1;
  std::mutex control_mutex_;  // one control request at a time
  std::mutex tx_mutex_;       // tx ring producers, and the records below
  // Where each recent frame went in the transmit ring (recent_tx), the latest as many as the ring has slots.
  struct TxRecord {
    uint32_t at = 0, len = 0;
    side_tx_offload offload{};
  };
  std::vector<TxRecord> tx_records_ = std::vector<TxRecord>(ipc::kTxRing.slots);
  uint64_t tx_recorded_ = 0;
};

}  // namespace side::supervisor
