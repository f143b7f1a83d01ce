#include "supervisor/fault_campaign.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "common/log.h"
#include "devices/e1000/regs.h"
#include "domain/layout.h"
#include "ipc/protocol.h"
#include "supervisor/recoverable_domain.h"

namespace side::supervisor {
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

uint64_t lost(const TrafficResult& t) {
  return t.tx.lost + t.rx.lost;
}

uint64_t errors(const TrafficResult& t) {
  return t.tx.corrupt + t.tx.out_of_order + t.rx.corrupt + t.rx.out_of_order;
}

// Points every receive descriptor at an address the driver never mapped, as a driver bug writing a bad DMA
// address would: the device's next receive is then an IOMMU fault.
bool corrupt_rx_descriptors(const SessionHandles& s) {
  e1000::E1000& nic = s.machine.e1000(s.device);
  uint64_t base = nic.peek(e1000::RDBAL) | (uint64_t{nic.peek(e1000::RDBAH)} << 32);
  uint64_t len = nic.peek(e1000::RDLEN);
  uint8_t* arena = s.domain.arena_base();
  uint64_t size = s.domain.arena_size();
  if (base < domain::kArenaPhysBase || len == 0 || base - domain::kArenaPhysBase + len > size) return false;
  uint8_t* ring = arena + (base - domain::kArenaPhysBase);
  const uint64_t bad = 0xdead0000;  // below the arena: never a DMA address of the domain
  for (uint64_t off = 0; off + 16 <= len; off += 16) std::memcpy(ring + off, &bad, 8);
  return true;
}

}  // namespace

const char* to_string(FaultType t) {
  return kNames[static_cast<size_t>(t)];
}

std::optional<FaultType> parse_fault_type(const std::string& name) {
  for (size_t i = 0; i < kFaultTypes; ++i) {
    if (name == kNames[i]) return static_cast<FaultType>(i);
  }
  return std::nullopt;
}

double FaultStats::median_ms() const {
  return percentile(recovery_ms, 0.5);
}

double FaultStats::p99_ms() const {
  return percentile(recovery_ms, 0.99);
}

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
  const uint32_t irq = s.machine.info(s.device).irq;
  auto wait_until = [](double seconds, auto&& done) {
    const auto deadline = clock::now() + std::chrono::duration<double>(seconds);
    while (clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return done();
  };
  // Traffic flowing again: progress within the settle time.
  auto flowing = [&] {
    uint64_t before = moved(s.peer.snapshot());
    return wait_until(config.settle_s, [&] { return moved(s.peer.snapshot()) >= before + 64; });
  };

  for (unsigned i = 0; i < config.faults && !rd->gave_up(); ++i) {
    const FaultType type = types[rng() % types.size()];
    const uint64_t seed = rng();
    FaultStats& st = out.by_type[static_cast<size_t>(type)];
    // Only from a healthy, moving state.
    rd->wait_recovered(10'000);
    const unsigned gen0 = rd->generation();
    const TrafficResult t0 = s.peer.snapshot();
    const uint64_t iommu0 = s.machine.iommu(s.device).counters().faults;
    const uint64_t lost_irqs0 = rd->lost_interrupts();
    uint64_t alloc_failed0 = 0;
    std::string what;

    switch (type) {
      case FaultType::kCrash:
        (void)rd->kill();
        what = "killed the domain";
        break;
      case FaultType::kBitflip:
      case FaultType::kLoop:
      case FaultType::kPointer:
      case FaultType::kWild: {
        static constexpr int kDomainType[] = {0, SIDE_INJECT_BITFLIP, SIDE_INJECT_LOOP, SIDE_INJECT_POINTER,
                                              SIDE_INJECT_WILD};
        auto r = rd->inject(kDomainType[static_cast<size_t>(type)], seed);
        what = r ? *r : "not injected: " + r.error().message;
        break;
      }
      case FaultType::kDma:
        what = corrupt_rx_descriptors(s) ? "receive descriptors point at unmapped memory" : "no receive ring";
        break;
      case FaultType::kStorm: {
        const auto end = clock::now() + std::chrono::milliseconds(1200);
        while (clock::now() < end && rd->generation() == gen0) rd->raise_irq(irq);
        what = "raised the interrupt line without pause for up to 1.2 s";
        break;
      }
      case FaultType::kAlloc: {
        if (auto r = rd->inject(SIDE_INJECT_ALLOC_FAILED, 0)) alloc_failed0 = std::stoull(*r);
        auto r = rd->inject(SIDE_INJECT_ALLOC, seed);
        what = r ? *r : "not injected: " + r.error().message;
        break;
      }
      case FaultType::kLostIrq:
        rd->lose_interrupts(300);
        what = "interrupts lost for 300 ms";
        break;
    }
    ++st.injected;

    // Detected: side noticed and restarted the driver.
    bool detected = wait_until(config.window_s, [&] { return rd->generation() != gen0 || rd->recovering(); });
    bool activated = detected, recovered = false;
    if (detected) {
      rd->wait_recovered(10'000);
      auto recs = rd->recoveries();
      if (!recs.empty() && recs.back().ok) {
        st.recovery_ms.push_back(recs.back().total_ms);
        out.total.recovery_ms.push_back(recs.back().total_ms);
      }
      recovered = !recs.empty() && recs.back().ok && flowing();
    } else {
      const TrafficResult t1 = s.peer.snapshot();
      switch (type) {
        case FaultType::kAlloc:
          if (auto r = rd->inject(SIDE_INJECT_ALLOC_FAILED, 0)) activated = std::stoull(*r) > alloc_failed0;
          break;
        case FaultType::kLostIrq:
          activated = rd->lost_interrupts() > lost_irqs0;
          break;
        case FaultType::kDma:
          activated = s.machine.iommu(s.device).counters().faults > iommu0;
          break;
        case FaultType::kStorm:
          activated = true;
          break;
        default:
          // Code or data corrupted without side noticing: did it change what the driver did?
          activated = errors(t1) > errors(t0) || moved(t1) == moved(t0);
          break;
      }
      // Tolerated: traffic flows on without a restart.
      recovered = flowing() && errors(s.peer.snapshot()) == errors(t1);
      if (type == FaultType::kBitflip || type == FaultType::kLoop || type == FaultType::kPointer ||
          type == FaultType::kWild || !recovered) {
        // A latent fault must not linger into the next experiment: restart the driver clean (not a detection).
        (void)rd->kill();
        wait_until(2, [&] { return rd->generation() != gen0; });
        rd->wait_recovered(10'000);
        if (!recovered) recovered = flowing();
      }
    }
    ++st.survived;
    st.activated += activated;
    st.detected += detected;
    st.recovered += activated && recovered;
    const uint64_t frames_lost = lost(s.peer.snapshot()) - lost(t0);
    st.frames_lost += frames_lost;
    if (config.verbose) {
      logf(LogLevel::kWarning, "side inject: #%u %s: %s; %s%s%s, %llu frames lost", i + 1, to_string(type),
           what.c_str(), activated ? "activated" : "not activated", detected ? ", detected" : "",
           activated ? (recovered ? ", recovered" : ", NOT recovered") : "",
           static_cast<unsigned long long>(frames_lost));
    }
  }
  for (const auto& st : out.by_type) {
    out.total.injected += st.injected;
    out.total.activated += st.activated;
    out.total.detected += st.detected;
    out.total.recovered += st.recovered;
    out.total.survived += st.survived;
    out.total.frames_lost += st.frames_lost;
  }
  if (rd->gave_up()) out.error = "side gave up restarting the driver";
}

}  // namespace side::supervisor
