// A domain's fault record: every driver fault it saw, in order, and whether it is faulty (once a fault is recorded,
// no more driver code runs in the domain). Also remembers which WARN_ONCE sites have warned already.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace side::domain {

struct FaultReport {
  int kind = 0;
  std::string kind_name;
  std::string message;
  uint64_t address = 0;  // driver location, 0 if unknown
  std::string location;  // "symbol+0xoff/0xsize [module]" when known
  uint64_t at_ns = 0;    // when it was recorded (common/clock.h's monotonic_ns), 0 if unknown
};

// "memory fault", "BUG", ... for a SIDE_FAULT_* kind.
const char* fault_kind_name(int kind);

class FaultLog {
 public:
  // Records a fault (and logs it); the domain is faulty from now on. `location` names `address` ("" if unknown).
  void record(int kind, const std::string& message, uint64_t address, std::string location);
  std::vector<FaultReport> all() const;
  // The message of the last fault, "" if none (for errors that say why a call was abandoned).
  std::string last_message() const;
  bool faulty() const { return faulty_.load(); }
  // True the first time it is asked about `site`, false after.
  bool first_warning(uint64_t site);
  // Called after each fault is recorded, on the thread that met it (so a recovery monitor need not poll).
  void set_listener(std::function<void()> listener);

 private:
  mutable std::mutex mutex_;
  std::vector<FaultReport> faults_;
  std::vector<uint64_t> warned_once_;
  std::function<void()> listener_;  // under mutex_
  std::atomic<bool> faulty_{false};
};

}  // namespace side::domain
