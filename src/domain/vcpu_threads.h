// The threads of a domain's secondary virtual CPUs, and how they are woken:
//   vCPU 1 (softirq): a tick every jiffy (timers), then rounds of interrupts, softirqs and transmissions, each
//          round started by an event on its doorbell (which a domain process shares with the supervisor);
//   vCPU 2 (worker): the workqueue, woken when work is queued.
// What a tick, a round or the worker does is the domain's (Work); this class owns the timing, the wake-ups and
// the threads' lives. Every wait is bounded, so stop() returns whatever the driver does between rounds.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "common/result.h"
#include "ipc/doorbell.h"

namespace side::domain {

class VcpuThreads {
 public:
  static constexpr uint32_t kEventIrq = 1, kEventSoftirq = 2, kEventTx = 4, kEventStop = 8;
  static constexpr uint64_t kTickNs = 1'000'000'000 / 250;  // Debian's CONFIG_HZ=250

  struct Work {
    std::function<bool(unsigned cpu)> init;          // on the new thread: make it vCPU `cpu`; false if it failed
    std::function<void()> before_round;              // vCPU 1, before each round (outside guarded calls)
    std::function<uint64_t()> tick;                  // vCPU 1, every jiffy: ns until the next one (0: kTickNs)
    std::function<uint32_t(uint32_t events)> round;  // vCPU 1: the events to carry into the next round
    std::function<void()> run_work;                  // vCPU 2, when woken
  };

  // `softirq_word`: vCPU 1's doorbell word (nullptr: a private one); vCPU 1 spins `spin_ns` before it sleeps.
  VcpuThreads(std::atomic<uint32_t>* softirq_word, uint64_t spin_ns);
  ~VcpuThreads() { stop(); }

  // Starts vCPUs 1 and 2 and returns once both are initialised (so that what they allocate at start is not
  // mistaken for what drivers allocate), or an error if one failed.
  Status start(Work work);
  // Stops both threads (no more ticks, rounds or work). Idempotent.
  void stop();
  void kick_softirq(uint32_t events) { softirq_bell_.ring(events); }
  void kick_worker() { worker_bell_.ring(1); }

 private:
  void softirq_loop();
  void worker_loop();
  bool initialise(unsigned cpu);

  Work work_;
  const uint64_t spin_ns_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> ready_{0};        // secondary vCPUs initialised
  std::atomic<bool> failed_{false};  // one failed to: start() stops waiting for the other
  // Each doorbell word on a cache line of its own (as the channel's are): a ring of one, on every frame sent, must
  // not take away from vCPU 1 the line of the fields it reads in every turn.
  alignas(64) std::atomic<uint32_t> own_softirq_word_{0};
  alignas(64) std::atomic<uint32_t> worker_word_{0};
  alignas(64) ipc::Doorbell softirq_bell_;
  ipc::Doorbell worker_bell_{&worker_word_};
  std::thread softirq_thread_;
  std::thread worker_thread_;
};

}  // namespace side::domain
