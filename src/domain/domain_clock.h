// A domain's clock. With virtual time, a driver's delays (udelay, msleep, ...) advance the clock instead of
// waiting, so a driver that polls a register with a timeout does not stall its virtual CPU; without it, delays
// wait for real (short ones spin, as the kernel's udelay does).
#pragma once

#include <atomic>
#include <cstdint>

namespace side::domain {

class DomainClock {
 public:
  explicit DomainClock(bool virtual_time) : virtual_time_(virtual_time) {}
  uint64_t now_ns() const;
  void delay_ns(uint64_t ns);

 private:
  const bool virtual_time_;
  std::atomic<int64_t> skew_ns_{0};  // the sum of the delays virtual time skipped
};

}  // namespace side::domain
