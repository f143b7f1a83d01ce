// The disk an isolated driver serves, as a block::BlockDevice the exporters (NBD, FUSE) and the verify workload
// use. Its geometry is what the driver's gendisk reports (side_kapi_block_info), checked before anything trusts it.
// Each request gets a staging slot in the domain's arena (the supervisor copies write data in and read data out:
// the domain sees arena offsets only, never a supervisor pointer) and a tag of the supervisor's, and goes to the
// domain as an ipc::BlockSubmit; the driver's completion comes back as an ipc::BlockDone event with that tag
// (Machine -> BlockListener). Every completion is validated here: a tag this disk did not issue, or no longer has
// in flight (a duplicate), and a status no kernel returns are the domain's faults, not completions; a request the
// domain does not complete within the timeout fails with EIO and is a fault too, never a hang.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "block/block_device.h"
#include "common/result.h"
#include "supervisor/driver_domain.h"
#include "supervisor/machine.h"

namespace side::session {

// What the driver reported, as the exporters' geometry (queue_depth and max_transfer are the staging slots');
// an error says what is nonsense in it.
Result<block::Geometry> geometry_from_info(const side_block_info& info, uint32_t slot_bytes, uint32_t slots);
// A completion's status as the contract has it: 0 or a positive errno; nullopt for one no kernel reports.
std::optional<int> status_from_completion(int64_t status);

struct DriverDiskCounters {
  std::atomic<uint64_t> requests{0}, errors{0}, bytes_read{0}, bytes_written{0};
  std::atomic<uint64_t> reads{0}, writes{0};   // completed without error
  std::atomic<uint64_t> stray_completions{0};  // unknown or duplicate tags
  std::atomic<uint64_t> bad_status{0}, timeouts{0};
  std::atomic<uint64_t> reissued{0};  // requests submitted again to a restarted driver
};

struct DriverDiskOptions {
  std::chrono::milliseconds request_timeout{30'000};  // the block layer's own request timeout is 30 s
  uint32_t slots = 8;                                 // requests in flight at once, each with 1 MiB of staging
  // The domain recovers (RecoverableDomain): a request the failed driver did not complete is kept, and submitted
  // again to the restarted one, as a shadow driver would; only a domain side gave up on fails it. Without it, a
  // request a failed domain did not complete ends with EIO.
  bool reissue = false;
  // A driver may add its disk after its probe returned (nvme probes asynchronously: its reset work and namespace
  // scan run on the domain's workqueue), so the disk is waited for, this long at most, when opened and when a
  // restarted driver takes over.
  std::chrono::milliseconds disk_wait{30'000};
};

// The description of disk `index` of the domain's driver, once the driver has added it: asked every few
// milliseconds until `wait` passed or the domain failed.
Result<side_block_info> wait_for_disk(supervisor::DriverDomain& domain, uint32_t index, std::chrono::milliseconds wait);

class DriverDisk final : public block::BlockDevice, public supervisor::BlockListener {
 public:
  // Disk `index` of the domain's driver: its description checked, the staging slots allocated in the arena. The
  // owner routes the domain's completions here (Machine::set_block_listener) while the disk lives.
  static Result<std::unique_ptr<DriverDisk>> open(supervisor::DriverDomain& domain, uint32_t index,
                                                  const DriverDiskOptions& options = {});
  // Drains (bounded) and stops the worker; what is still in flight then completes with EIO.
  ~DriverDisk() override;

  // BlockListener: a completion from the domain, validated before it completes anything.
  void block_done(uint64_t tag, int32_t status) override;

  const side_block_info& info() const { return info_; }
  const DriverDiskCounters& counters() const { return counters_; }

  static constexpr uint32_t kSlotOrder = 8;  // 2^8 pages: 1 MiB, the longest request the exporters send
  static constexpr uint32_t kSlotBytes = 4096u << kSlotOrder;

 protected:
  void start(const block::Request& r, block::Completion done) override;

 private:
  struct Job {
    block::Request request;
    block::Completion done;
  };
  struct InFlight {
    Job job;
    uint32_t slot = 0;
    std::chrono::steady_clock::time_point deadline;
    unsigned generation = 0;  // of the domain it was submitted to
    bool expired_once = false;
  };
  DriverDisk(supervisor::DriverDomain& domain, uint32_t index, const side_block_info& info,
             const block::Geometry& geometry, std::vector<uint64_t> slots, const DriverDiskOptions& options);
  void work();
  void issue(Job job);
  void send(uint64_t tag, const block::Request& r, uint32_t slot);
  bool held_for_recovery() const;
  void follow_generation();
  Status reattach();
  void fail_all();
  uint64_t slot_offset(uint32_t slot);
  // 0 accepted, 1 refused (the request fails), -1 not answered (the domain failed).
  int submit_message(const block::Request& r, uint64_t tag, uint64_t slot_offset);
  std::optional<InFlight> take(uint64_t tag);
  void complete(InFlight f, int status);
  std::vector<InFlight> take_expired(bool all);
  void anomaly(int kind, const std::string& message);

  supervisor::DriverDomain& domain_;
  const uint32_t index_;
  const side_block_info info_;
  std::vector<uint64_t> slots_;  // arena offsets of the staging slots in generation_'s arena (under mu_)
  const DriverDiskOptions options_;
  DriverDiskCounters counters_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> pending_;
  std::map<uint64_t, InFlight> in_flight_;
  std::vector<bool> slot_busy_;
  uint64_t next_tag_ = 1;
  unsigned generation_ = 0;      // the domain generation slots_ belong to
  uint64_t generation_tag_ = 1;  // the first tag of that generation: a stray older one is a dead driver's, late
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace side::session
