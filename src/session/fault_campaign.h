// `side inject`: a reproducible fault-injection campaign under traffic, in the style of SWIFI. Each fault is
// injected into a running driver, then the campaign watches: was it activated (did it change anything), detected
// (did side notice and restart the driver), recovered (did traffic flow again), and what did it cost (frames lost,
// restart time). The supervisor surviving is the campaign still running.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/sanitizer.h"
#include "session/nic_session.h"

namespace side::session {

enum class FaultType : uint8_t {
  kCrash,    // the domain process dies (as if the driver brought it down)
  kBitflip,  // one bit of the driver's code flipped
  kLoop,     // an infinite loop planted in a function the driver runs per packet
  kPointer,  // a pointer in the driver's heap data corrupted (SIDE's method)
  kWild,     // a random store into the driver's heap data
  kDma,      // the driver's receive descriptors pointed at memory it never mapped
  kStorm,    // an interrupt storm
  kAlloc,    // allocations fail
  kLostIrq,  // interrupts lost on the way
};
inline constexpr size_t kFaultTypes = 9;
const char* to_string(FaultType t);
std::optional<FaultType> parse_fault_type(const std::string& name);

struct FaultStats {
  uint64_t injected = 0, activated = 0, detected = 0, recovered = 0, survived = 0;
  // Net frames lost during the experiments: a frame declared lost before one (with a restarted driver) that arrives
  // late during it counts -1, so the sum over all types is the campaign's own count of lost frames.
  int64_t frames_lost = 0;
  std::vector<double> recovery_ms;  // of detected faults: fault to traffic-ready driver
  double median_ms() const;
  double p99_ms() const;
};

struct CampaignConfig {
  unsigned faults = 100;
  std::vector<FaultType> types;  // empty: all
  uint64_t seed = 1;
  // How long a fault may take to show: more than the hung-driver watchdog's bound (supervisor/liveness.h: 1 s,
  // stretched in sanitizer builds).
  double window_s = 2.0 * kSanitizerSlowdown;
  double settle_s = 3.0;  // how long traffic may take to flow again
  bool verbose = false;   // a line per fault
  // Called before each fault (done = faults finished so far, step = what comes next) and once at the end.
  std::function<void(unsigned done, unsigned total, const std::string& step)> progress;
};

struct CampaignResult {
  std::array<FaultStats, kFaultTypes> by_type;
  FaultStats total;
  std::string error;
};

// The frames one experiment lost, net: the traffic peer's count of lost frames can go down (frames declared lost
// after a restart that the recovery requeued, delivered late).
int64_t frames_lost_between(const TrafficResult& before, const TrafficResult& after);

// Runs inside a NIC session (as its workload); fills `out`.
void run_campaign(const CampaignConfig& config, const SessionHandles& session, CampaignResult& out);

// Injects one fault of `type` into the session's (recovering) driver; says what was done. For kAlloc, the domain's
// count of failed allocations before the injection goes to *alloc_failed0 (if given).
std::string inject_fault(FaultType type, const SessionHandles& session, uint64_t seed, uint64_t* alloc_failed0);

// The soak (`side run --inject-every S`): one fault every `every_s` seconds, all kinds in rotation, under whatever
// traffic runs (iperf3 through the host interface, say), until `stop`. A fault side did not see is cleared by a
// restart, so none lingers into the next. Counts are read while it runs.
struct TimedFaults {
  std::atomic<uint64_t> injected{0}, detected{0}, tolerated{0};  // tolerated: not seen, then restarted clean
  std::atomic<uint64_t> recovered{0}, not_recovered{0};
  std::string last_failure;  // written by the injecting thread, read after it ended
};
void run_timed_faults(const SessionHandles& session, double every_s, uint64_t seed, const std::atomic<bool>& stop,
                      TimedFaults& out);

// What the supervisor holds, for the soak: it must not grow with the faults.
struct SoakSample {
  uint64_t fds = 0, threads = 0, rss_kib = 0, dma_mappings = 0;
};
SoakSample soak_sample(const SessionHandles& session);
// run_timed_faults with a line of counts and resources on stderr at the start, every 10 s and at the end
// ("side soak: start|sample|end: ..."; scripts/soak.sh reads them).
void run_soak(const SessionHandles& session, double every_s, const std::atomic<bool>& stop, TimedFaults& out);

}  // namespace side::session
