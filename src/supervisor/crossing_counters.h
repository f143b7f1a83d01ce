// What crossed between the supervisor and a domain process, counted on the supervisor's side (what it handled and
// what it did, never what the domain claims): the per-frame cost of isolation in crossings and wake-ups
// (scripts/profile-datapath.sh divides them by the frames; docs/bench/breakdown.md).
#pragma once

#include <atomic>
#include <cstdint>

namespace side::supervisor {

struct CrossingCounts {
  uint64_t device_reads = 0;   // device requests answered (register and config reads, awaited DMA changes)
  uint64_t device_writes = 0;  // posted device requests (register and config writes)
  uint64_t dma_changes = 0;    // posted DMA permission changes
  uint64_t frames_in = 0;      // received frames the domain handed over (receive ring)
  uint64_t frames_out = 0;     // frames handed to the domain to transmit (transmit ring)
  uint64_t events = 0;         // other event messages (network device events, logs, replies, ...)
  uint64_t service_waits = 0;  // times the service thread found nothing to do and waited for the domain's bell
  uint64_t domain_wakes = 0;   // the domain's doorbells rung while it slept (a futex wake system call each)
  uint64_t domain_bells = 0;   // the domain's doorbells rung at all (interrupts, frames to send)
  uint64_t to_supervisor() const { return device_reads + device_writes + dma_changes + frames_in + events; }
};

// The live counters, bumped on the threads that do the work and read by anyone.
struct CrossingCounters {
  std::atomic<uint64_t> device_reads{0}, device_writes{0}, dma_changes{0}, frames_in{0}, frames_out{0}, events{0};
  std::atomic<uint64_t> service_waits{0}, domain_wakes{0}, domain_bells{0};
  static void bump(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  CrossingCounts snapshot() const {
    auto g = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
    return {g(device_reads), g(device_writes), g(dma_changes),  g(frames_in),   g(frames_out),
            g(events),       g(service_waits), g(domain_wakes), g(domain_bells)};
  }
};

}  // namespace side::supervisor
