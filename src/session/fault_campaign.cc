#include "session/fault_campaign.h"

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>

#include "common/counters.h"
#include "common/log.h"
#include "domain/layout.h"
#include "ipc/protocol.h"
#include "supervisor/recoverable_domain.h"

namespace side::session {
using supervisor::RecoverableDomain;
namespace {

using clock = std::chrono::steady_clock;

constexpr const char* kNames[kFaultTypes] = {"crash", "bitflip", "loop",  "pointer", "wild",
                                             "dma",   "storm",   "alloc", "lostirq"};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

uint64_t moved(const TrafficResult& t) {
  return t.tx.verified + t.rx.verified;
}

uint64_t errors(const TrafficResult& t) {
  return t.tx.corrupt + t.tx.out_of_order + t.rx.corrupt + t.rx.out_of_order;
}

// Points every receive descriptor at an address the driver never mapped, as a driver bug writing a bad DMA
// address would: the device's next receive is then an IOMMU fault.
bool corrupt_rx_descriptors(const SessionHandles& s) {
  net::Nic* nic = s.machine.nic(s.device);
  auto ring = nic ? nic->rx_ring() : std::nullopt;
  if (!ring || ring->stride < 8 || ring->address_offset > ring->stride - 8) return false;
  const uint64_t base = ring->iova, len = ring->bytes;
  uint8_t* arena = s.domain.arena_base();
  uint64_t size = s.domain.arena_size();
  if (base < domain::kArenaPhysBase || len == 0 || base - domain::kArenaPhysBase > size ||
      len > size - (base - domain::kArenaPhysBase)) {
    return false;
  }
  uint8_t* first = arena + (base - domain::kArenaPhysBase);
  const uint64_t bad = 0xdead0000;  // below the arena: never a DMA address of the domain
  for (uint64_t off = 0; off + ring->stride <= len; off += ring->stride) {
    std::memcpy(first + off + ring->address_offset, &bad, 8);
  }
  return true;
}

}  // namespace

std::string inject_fault(FaultType type, const SessionHandles& s, uint64_t seed, uint64_t* alloc_failed0) {
  RecoverableDomain* rd = s.recoverable;
  switch (type) {
    case FaultType::kCrash:
      (void)rd->kill();
      return "killed the domain";
    case FaultType::kBitflip:
    case FaultType::kLoop:
    case FaultType::kPointer:
    case FaultType::kWild: {
      static constexpr int kDomainType[] = {0, SIDE_INJECT_BITFLIP, SIDE_INJECT_LOOP, SIDE_INJECT_POINTER,
                                            SIDE_INJECT_WILD};
      auto r = rd->inject(kDomainType[static_cast<size_t>(type)], seed);
      return r ? *r : "not injected: " + r.error().message;
    }
    case FaultType::kDma:
      return corrupt_rx_descriptors(s) ? "receive descriptors point at unmapped memory" : "no receive ring";
    case FaultType::kStorm: {
      const unsigned gen0 = rd->generation();
      const uint32_t irq = s.machine.info(s.device).irq;
      const auto end = clock::now() + std::chrono::milliseconds(1200);
      while (clock::now() < end && rd->generation() == gen0) rd->raise_irq(irq);
      return "raised the interrupt line without pause for up to 1.2 s";
    }
    case FaultType::kAlloc: {
      if (auto r = rd->inject(SIDE_INJECT_ALLOC_FAILED, 0); r && alloc_failed0) *alloc_failed0 = std::stoull(*r);
      auto r = rd->inject(SIDE_INJECT_ALLOC, seed);
      return r ? *r : "not injected: " + r.error().message;
    }
    case FaultType::kLostIrq:
      rd->lose_interrupts(300);
      return "interrupts lost for 300 ms";
  }
  return "";
}

const char* to_string(FaultType t) {
  return kNames[static_cast<size_t>(t)];
}

std::optional<FaultType> parse_fault_type(const std::string& name) {
  for (size_t i = 0; i < kFaultTypes; ++i) {
    if (name == kNames[i]) return static_cast<FaultType>(i);
  }
  return std::nullopt;
}

int64_t frames_lost_between(const TrafficResult& before, const TrafficResult& after) {
  return counter_change(before.tx.lost, after.tx.lost) + counter_change(before.rx.lost, after.rx.lost);
}

double FaultStats::median_ms() const {
  return percentile(recovery_ms, 0.5);
}

double FaultStats::p99_ms() const {
  return percentile(recovery_ms, 0.99);
}

namespace {

// Polls `done` every half millisecond for up to `seconds`, and no longer than `*stop` stays false.
template <class Done>
bool wait_until(double seconds, Done&& done, const std::atomic<bool>* stop = nullptr) {
  const auto deadline = clock::now() + std::chrono::duration<double>(seconds);
  while (clock::now() < deadline && !(stop && stop->load())) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return done();
}

// Traffic flowing again: progress within the settle time.
bool flowing(const SessionHandles& s, double settle_s) {
  const uint64_t before = moved(s.peer.snapshot());
  return wait_until(settle_s, [&] { return moved(s.peer.snapshot()) >= before + 64; });
}

// What the counters said before a fault went in.
struct Before {
  unsigned generation = 0;
  TrafficResult traffic;
  uint64_t iommu_faults = 0, lost_irqs = 0, alloc_failed = 0;
};

// One experiment's verdict.
struct Outcome {
  bool activated = false, detected = false, recovered = false;
};

// A fault side did not notice: did it do anything (by its kind's own evidence)?
bool activated_unnoticed(FaultType type, const SessionHandles& s, const Before& b, const TrafficResult& now) {
  switch (type) {
    case FaultType::kAlloc:
      if (auto r = s.recoverable->inject(SIDE_INJECT_ALLOC_FAILED, 0)) return std::stoull(*r) > b.alloc_failed;
      return false;
    case FaultType::kLostIrq:
      return s.recoverable->lost_interrupts() > b.lost_irqs;
    case FaultType::kDma:
      return s.machine.iommu(s.device).counters().faults > b.iommu_faults;
    case FaultType::kStorm:
      return true;
    default:
      // Code or data corrupted without side noticing: did it change what the driver did?
      return errors(now) > errors(b.traffic) || moved(now) == moved(b.traffic);
  }
}

// Detected: side restarted the driver; recovered once the restart succeeded and traffic flows again.
Outcome after_detection(const CampaignConfig& config, const SessionHandles& s, FaultStats& st, CampaignResult& out) {
  RecoverableDomain* rd = s.recoverable;
  rd->wait_recovered(10'000);
  auto recs = rd->recoveries();
  if (!recs.empty() && recs.back().ok) {
    st.recovery_ms.push_back(recs.back().total_ms);
    out.total.recovery_ms.push_back(recs.back().total_ms);
  }
  return {true, true, !recs.empty() && recs.back().ok && flowing(s, config.settle_s)};
}

// Not detected: tolerated if traffic flows on without a restart. A latent fault must not linger into the next
// experiment: the driver is restarted clean (not a detection).
Outcome without_detection(const CampaignConfig& config, const SessionHandles& s, FaultType type, const Before& b) {
  RecoverableDomain* rd = s.recoverable;
  const TrafficResult t1 = s.peer.snapshot();
  Outcome o;
  o.activated = activated_unnoticed(type, s, b, t1);
  o.recovered = flowing(s, config.settle_s) && errors(s.peer.snapshot()) == errors(t1);
  if (type == FaultType::kBitflip || type == FaultType::kLoop || type == FaultType::kPointer ||
      type == FaultType::kWild || !o.recovered) {
    (void)rd->kill();
    wait_until(2, [&] { return rd->generation() != b.generation; });
    rd->wait_recovered(10'000);
    if (!o.recovered) o.recovered = flowing(s, config.settle_s);
  }
  return o;
}

// Injects one fault of `type` into a healthy, moving driver and judges what became of it.
void run_experiment(const CampaignConfig& config, const SessionHandles& s, unsigned index, FaultType type,
                    uint64_t seed, CampaignResult& out) {
  RecoverableDomain* rd = s.recoverable;
  FaultStats& st = out.by_type[static_cast<size_t>(type)];
  rd->wait_recovered(10'000);
  Before b;
  b.generation = rd->generation();
  b.traffic = s.peer.snapshot();
  b.iommu_faults = s.machine.iommu(s.device).counters().faults;
  b.lost_irqs = rd->lost_interrupts();
  const std::string what = inject_fault(type, s, seed, &b.alloc_failed);
  ++st.injected;
  const bool detected =
      wait_until(config.window_s, [&] { return rd->generation() != b.generation || rd->recovering(); });
  const Outcome o = detected ? after_detection(config, s, st, out) : without_detection(config, s, type, b);
  ++st.survived;
  st.activated += o.activated;
  st.detected += o.detected;
  st.recovered += o.activated && o.recovered;
  const int64_t frames_lost = frames_lost_between(b.traffic, s.peer.snapshot());
  st.frames_lost += frames_lost;
  if (config.verbose) {
    logf(LogLevel::kWarning, "side inject: #%u %s: %s; %s%s%s, %lld frames lost", index + 1, to_string(type),
         what.c_str(), o.activated ? "activated" : "not activated", o.detected ? ", detected" : "",
         o.activated ? (o.recovered ? ", recovered" : ", NOT recovered") : "", static_cast<long long>(frames_lost));
  }
}

void add_up(CampaignResult& out) {
  for (const auto& st : out.by_type) {
    out.total.injected += st.injected;
    out.total.activated += st.activated;
    out.total.detected += st.detected;
    out.total.recovered += st.recovered;
    out.total.survived += st.survived;
    out.total.frames_lost += st.frames_lost;
  }
}

}  // namespace

void run_campaign(const CampaignConfig& config, const SessionHandles& s, CampaignResult& out) {
  RecoverableDomain* rd = s.recoverable;
  if (!rd) {
    out.error = "fault injection needs a recovering domain (process isolation)";
    return;
  }
  std::vector<FaultType> types = config.types;
  if (types.empty()) {
    for (size_t i = 0; i < kFaultTypes; ++i) types.push_back(static_cast<FaultType>(i));
  }
  std::mt19937_64 rng(config.seed);
  for (unsigned i = 0; i < config.faults && !rd->gave_up(); ++i) {
    const FaultType type = types[rng() % types.size()];
    const uint64_t seed = rng();
    if (config.progress) config.progress(i, config.faults, "fault " + std::to_string(i + 1) + ": " + to_string(type));
    run_experiment(config, s, i, type, seed, out);
  }
  if (config.progress) config.progress(config.faults, config.faults, "done");
  add_up(out);
  if (rd->gave_up()) out.error = "side gave up restarting the driver";
}

// ---- the soak --------------------------------------------------------------------------------------------------

void run_timed_faults(const SessionHandles& s, double every_s, uint64_t seed, const std::atomic<bool>& stop,
                      TimedFaults& out) {
  RecoverableDomain* rd = s.recoverable;
  if (!rd) {
    out.last_failure = "fault injection needs a recovering domain (process isolation)";
    return;
  }
  std::mt19937_64 rng(seed);
  auto next = clock::now();
  for (uint64_t i = 0; !stop.load() && !rd->gave_up(); ++i) {
    next += std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(every_s));
    wait_until(
        std::chrono::duration<double>(next - clock::now()).count(), [] { return false; }, &stop);
    if (stop.load()) break;
    const auto type = static_cast<FaultType>(i % kFaultTypes);
    const unsigned gen0 = rd->generation();
    const size_t recoveries0 = rd->recoveries().size();
    const std::string what = inject_fault(type, s, rng(), nullptr);
    ++out.injected;
    const double window_s = CampaignConfig{}.window_s - 0.5;  // before the next fault, every 2 s or more
    if (wait_until(
            window_s, [&] { return rd->generation() != gen0 || rd->recovering(); }, &stop)) {
      ++out.detected;
    } else {
      // Not seen (yet): a latent fault must not linger into the next one, nor into the session's close; the
      // driver is restarted clean.
      ++out.tolerated;
      (void)rd->kill();
    }
    // Back before anything else happens, even when the session is ending (a restart takes milliseconds).
    const bool back = wait_until(5, [&] { return rd->generation() != gen0 && !rd->recovering(); });
    const auto recs = rd->recoveries();
    if (back && recs.size() > recoveries0 && recs.back().ok && !rd->gave_up()) {
      ++out.recovered;
    } else {
      ++out.not_recovered;
      out.last_failure = std::string(to_string(type)) + " (" + what +
                         "): " + (recs.size() > recoveries0 ? recs.back().error : std::string("no restart within 5 s"));
      logf(LogLevel::kError, "side soak: fault #%llu not recovered: %s", static_cast<unsigned long long>(i + 1),
           out.last_failure.c_str());
    }
  }
}

SoakSample soak_sample(const SessionHandles& s) {
  SoakSample out;
  auto count = [](const char* dir) {
    uint64_t n = 0;
    if (DIR* d = opendir(dir)) {
      while (const dirent* e = readdir(d)) n += e->d_name[0] != '.';
      closedir(d);
    }
    return n;
  };
  out.fds = count("/proc/self/fd") - 1;  // (the directory being read)
  out.threads = count("/proc/self/task");
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
      unsigned long long kib;
      if (std::sscanf(line, "VmRSS: %llu", &kib) == 1) out.rss_kib = kib;
    }
    std::fclose(f);
  }
  out.dma_mappings = s.machine.dma(s.device).live_mappings();
  return out;
}

void run_soak(const SessionHandles& s, double every_s, const std::atomic<bool>& stop, TimedFaults& out) {
  auto print = [&](const char* when) {
    const SoakSample r = soak_sample(s);
    std::fprintf(stderr,
                 "side soak: %s: faults injected %llu, recovered %llu (detected %llu, restarted clean %llu), not "
                 "recovered %llu; fds %llu threads %llu rss_kib %llu dma_mappings %llu\n",
                 when, static_cast<unsigned long long>(out.injected.load()),
                 static_cast<unsigned long long>(out.recovered.load()),
                 static_cast<unsigned long long>(out.detected.load()),
                 static_cast<unsigned long long>(out.tolerated.load()),
                 static_cast<unsigned long long>(out.not_recovered.load()), static_cast<unsigned long long>(r.fds),
                 static_cast<unsigned long long>(r.threads), static_cast<unsigned long long>(r.rss_kib),
                 static_cast<unsigned long long>(r.dma_mappings));
  };
  // Measured in the state it is measured in at the end: driver up, its spare started.
  s.recoverable->wait_spare(5000);
  print("start");
  std::atomic<bool> done{false};
  std::thread reporter([&] {
    while (!done.load()) {
      if (wait_until(
              10, [] { return false; }, &done),
          done.load())
        break;
      print("sample");
    }
  });
  run_timed_faults(s, every_s, 1, stop, out);
  done = true;
  reporter.join();
  // The last fault's restart has settled (its spare started) before the closing sample.
  s.recoverable->wait_recovered(2000);
  s.recoverable->wait_spare(2000);
  print("end");
}

}  // namespace side::session
