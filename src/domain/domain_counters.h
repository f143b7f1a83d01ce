// What a domain counted about itself: interrupts, and device accesses by how they reached the device (trapped, or
// through a rewritten site). For reports and benchmarks only. A domain process publishes them in its channel's
// counter slots and the supervisor reads them back; these two functions are the one mapping between the struct
// and the slots (ipc::DomainCounter).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>

#include "ipc/channel.h"

namespace side::domain {

struct DomainCounters {
  uint64_t irqs_delivered = 0, irqs_handled = 0;
  uint64_t traps = 0, patched_accesses = 0, sites_patched = 0, sites_refused = 0;
  uint64_t shadow_reads = 0;  // device reads answered from a register copy (ipc::RegisterShadow), no crossing

  // The counters into the channel's slots (domain side) and back (supervisor side: a hostile domain may have
  // written anything there, which is why nothing but a report uses them).
  void publish(std::span<std::atomic<uint64_t>> slots) const {
    auto set = [&](ipc::DomainCounter i, uint64_t v) { slots[i].store(v, std::memory_order_relaxed); };
    set(ipc::kCounterIrqsDelivered, irqs_delivered);
    set(ipc::kCounterIrqsHandled, irqs_handled);
    set(ipc::kCounterTraps, traps);
    set(ipc::kCounterPatchedAccesses, patched_accesses);
    set(ipc::kCounterSitesPatched, sites_patched);
    set(ipc::kCounterSitesRefused, sites_refused);
    set(ipc::kCounterShadowReads, shadow_reads);
  }
  static DomainCounters read(std::span<const std::atomic<uint64_t>> slots) {
    auto get = [&](ipc::DomainCounter i) { return slots[i].load(std::memory_order_relaxed); };
    return {get(ipc::kCounterIrqsDelivered),   get(ipc::kCounterIrqsHandled),  get(ipc::kCounterTraps),
            get(ipc::kCounterPatchedAccesses), get(ipc::kCounterSitesPatched), get(ipc::kCounterSitesRefused),
            get(ipc::kCounterShadowReads)};
  }
};

}  // namespace side::domain
