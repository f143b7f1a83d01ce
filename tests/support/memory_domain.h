// A driver domain that is only memory: an arena for the machine's IOMMUs, and a record of what the machine told it
// (attached devices, interrupts, faults). No driver runs in it; every driver operation fails. Tests and fuzz
// targets of the supervisor's machine use it.
#pragma once

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "domain/layout.h"
#include "ipc/channel.h"
#include "supervisor/driver_domain.h"

namespace side::testing {

class MemoryDomain final : public supervisor::DriverDomain {
 public:
  explicit MemoryDomain(size_t arena_bytes = 1 << 20) : arena_(arena_bytes) {}

  const char* isolation() const override { return "memory"; }
  int pid() const override { return 0; }
  uint8_t* arena_base() const override { return const_cast<uint8_t*>(arena_.data()); }
  uint64_t arena_size() const override { return arena_.size(); }
  void connect(domain::Platform*) override {}
  Result<std::string> load(const domain::LoadRequest&) override { return none(); }
  // Devices attached are remembered; every other operation fails.
  Result<ipc::ControlAnswer> transact(const ipc::ControlRequest& r) override {
    auto attach = ipc::decode<ipc::AttachDevice>(r.head, r.payload);
    if (!attach) return none();
    std::lock_guard lock(mu);
    attached.push_back(attach->payload);
    return ipc::ControlAnswer{};
  }
  void report_fault(int kind, const std::string& message) override {
    std::lock_guard lock(mu);
    reported.emplace_back(kind, message);
  }
  void raise_irq(uint32_t irq) override {
    std::lock_guard lock(mu);
    irqs.push_back(irq);
  }
  bool submit_tx(uint64_t, std::span<const uint8_t>, const side_tx_offload& = {}) override { return false; }
  bool faulty() const override { return false; }
  std::vector<domain::FaultReport> faults() const override { return {}; }
  std::optional<supervisor::DomainCounters> counters() const override { return std::nullopt; }
  void shutdown() override {}
  Status kill() override { return none(); }
  // Register copies go to `copies` when set (a channel's header, as a domain process's do), else nowhere.
  void set_register_shadow(unsigned index, uint32_t key, uint32_t value) override {
    if (!copies || index >= ipc::kRegisterShadows) return;
    copies->shadows[index].value.store(value, std::memory_order_release);
    copies->shadows[index].key.store(key, std::memory_order_release);
  }
  ipc::ChannelHeader* copies = nullptr;

  // The arena byte at bus address `phys`.
  uint8_t* at(uint64_t phys) { return arena_.data() + (phys - domain::kArenaPhysBase); }

  std::mutex mu;
  std::vector<std::pair<int, std::string>> reported;
  std::vector<side_pci_device_info> attached;
  std::vector<uint32_t> irqs;

 private:
  static Error none() { return Error{"no driver runs in a memory-only domain"}; }
  std::vector<uint8_t> arena_;
};

}  // namespace side::testing
