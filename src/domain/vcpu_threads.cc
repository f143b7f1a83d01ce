#include "domain/vcpu_threads.h"

#include <algorithm>

#include "common/clock.h"
#include "common/log.h"
#include "domain/vcpu.h"

namespace side::domain {

VcpuThreads::VcpuThreads(std::atomic<uint32_t>* softirq_word, uint64_t spin_ns)
    : spin_ns_(spin_ns), softirq_bell_(softirq_word ? softirq_word : &own_softirq_word_) {}

Status VcpuThreads::start(Work work) {
  work_ = std::move(work);
  softirq_thread_ = std::thread([this] { softirq_loop(); });
  worker_thread_ = std::thread([this] { worker_loop(); });
  while (!failed_.load() && ready_.load() < 2) std::this_thread::yield();
  if (failed_.load()) return make_error("a virtual CPU failed to initialise");
  return {};
}

void VcpuThreads::stop() {
  stopping_ = true;
  softirq_bell_.ring(kEventStop);
  worker_bell_.ring(kEventStop);
  if (softirq_thread_.joinable()) softirq_thread_.join();
  if (worker_thread_.joinable()) worker_thread_.join();
}

bool VcpuThreads::initialise(unsigned cpu) {
  if (!work_.init(cpu)) {
    logf(LogLevel::kError, "side: virtual CPU %u failed to initialise", cpu);
    failed_ = true;
    return false;
  }
  ++ready_;
  return true;
}

void VcpuThreads::softirq_loop() {
  if (!initialise(1)) return;
  uint64_t next_tick = monotonic_ns() + kTickNs;
  uint32_t carried = 0;  // work left over from the last round
  ipc::AdaptiveSpin spin(spin_ns_);
  while (!stopping_.load()) {
    uint64_t now = monotonic_ns();
    const uint64_t to_tick = next_tick > now ? next_tick - now : 0;
    uint32_t events = carried ? carried | softirq_bell_.take() : softirq_bell_.wait(spin, to_tick);
    carried = 0;
    if (stopping_.load()) break;
    if (work_.before_round) work_.before_round();
    now = monotonic_ns();
    if (now >= next_tick) {
      events |= kEventSoftirq;                // a tick runs timers; what they schedule runs in the same round
      const uint64_t next_ns = work_.tick();  // to the next jiffy's start, as the layer's clock has it
      next_tick = monotonic_ns() + (next_ns && next_ns <= kTickNs ? next_ns : kTickNs);
    }
    carried = work_.round(events);
  }
  leave_vcpu();
}

void VcpuThreads::worker_loop() {
  if (!initialise(2)) return;
  while (!stopping_.load()) {
    const uint32_t events = worker_bell_.wait(0, kTickNs * 25);
    if (stopping_.load()) break;
    if (events) work_.run_work();
  }
  leave_vcpu();
}

}  // namespace side::domain
