// The interface the supervisor's machine (the PCI bus) uses to drive an emulated PCI function, whatever the
// device: configuration accesses, BAR accesses (already decoded to bar index + offset, see ConfigSpace::decode),
// reset and timers. DMA goes through the IOMMU of the slot the device sits in (DeviceContext), interrupts leave the
// device through an InterruptSink: the device model never knows how the supervisor delivers them into the domain.
// A network device also implements net::Nic (nic()), which is all the host side uses.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "devices/pci/config_space.h"

namespace side::iommu {
class Iommu;
}
namespace side::net {
class Nic;
}

namespace side::pci {

// The domain's DMA-able memory as a device served by another process reaches it: a memfd and the bus addresses it
// spans (identity-mapped, so bus address = bus_base + offset in the file).
struct DmaMemory {
  int fd = -1;  // owned by the domain; -1 when the domain has none to share
  uint64_t bus_base = 0;
  uint64_t size = 0;
};

// What the bus gives a device when it is plugged into a slot.
struct DeviceContext {
  iommu::Iommu& iommu;  // the slot's IOMMU: every DMA of the device is checked there
  // Monotonic clock in ns (the machine's, so tests and the virtual clock agree).
  std::function<uint64_t()> now_ns;
  // The device wants service_timers() at or after `deadline_ns`. May be called with the device's lock held: the
  // bus only records the deadline.
  std::function<void(uint64_t deadline_ns)> arm_timer;
  // For a device whose DMA bypasses the slot's IOMMU (served by another process): the memory it may reach.
  DmaMemory dma_memory = {};
  // The device's backend failed (its server died or broke the protocol): reported against the domain, whose
  // recovery then resets the device. May be empty.
  std::function<void(const std::string& why)> device_fault = {};
};

// Receives the level of the function's INTx line. Called with the device's internal lock held: implementations
// must not call back into the device (post a message, set a flag, kick an eventfd).
class InterruptSink {
 public:
  virtual ~InterruptSink() = default;
  virtual void set_irq_level(bool asserted) = 0;
  // The function sent a message-signalled interrupt with `data` (MSI or MSI-X, as the driver's kernel programmed
  // it). The sink decides whether the data names an interrupt the domain has; the device does not know.
  virtual void message(uint32_t /*data*/) {}
};

class PciDevice {
 public:
  PciDevice(const Identity& id, const std::array<BarSpec, kNumBars>& bars) : config_(id, bars) {}
  virtual ~PciDevice() = default;
  PciDevice(const PciDevice&) = delete;
  PciDevice& operator=(const PciDevice&) = delete;

  // Configuration space (width 1, 2 or 4; any offset). Never fails: bad accesses read all-ones / are dropped.
  virtual uint32_t config_read(uint32_t offset, unsigned width);
  virtual void config_write(uint32_t offset, unsigned width, uint32_t value);

  // BAR accesses. `offset` is relative to the BAR base, width 1, 2, 4 or 8. Out-of-range accesses read all-ones.
  virtual uint64_t bar_read(int bar, uint64_t offset, unsigned width) = 0;
  virtual void bar_write(int bar, uint64_t offset, unsigned width, uint64_t value) = 0;

  // Power-on / PCI reset: config space and all device state back to defaults; no DMA in flight afterwards.
  virtual void reset() = 0;

  // The domain's DMA memory changed (recovery gave the device to a new domain): a device that reaches memory
  // directly, rather than through the slot's IOMMU, registers the new memory and drops the old.
  virtual void set_dma_memory(const DmaMemory& /*memory*/) {}

  // Runs expired device timers (interrupt moderation and the like). Cheap; the bus may call it at any time.
  virtual void service_timers() {}
  // The earliest time service_timers() has work, if any.
  virtual std::optional<uint64_t> next_deadline_ns() const { return std::nullopt; }

  // The device's network side when it is a network controller; null otherwise.
  virtual net::Nic* nic() { return nullptr; }

  // Everything the model counts, by name, in a fixed order (reports, verdicts of the hostile-driver suite). The
  // generic figures every NIC has are in net::Nic::nic_counters(); these are the model's own.
  using NamedCounters = std::vector<std::pair<std::string, uint64_t>>;
  virtual NamedCounters model_counters() const { return {}; }

  // Registers a driver may read from a copy kept where it runs, without asking the device (4-byte reads of BAR
  // offsets): each must read without side effects, and the model calls registers_changed() whenever one's value may
  // have changed other than through a register or config write (which the bus follows itself). A read of a copy
  // completes only behind the writes posted before it, as on a PCI bus (drivers flush their writes by reading any
  // register: e1000 masks its interrupts with IMC and reads STATUS), but waits for them to be carried out rather
  // than for an answer. `inert_writes` are registers whose writes change none of the copies' values but (if it is
  // one) their own: after such a write the bus reads no other copy again. `private_writes`, copies themselves, are
  // registers whose writes have no effect any access but a read of that same register could see (no interrupt, no
  // DMA, no other register): a read of another copy need not wait for them. A driver that polls such registers
  // (e1000's EECD, clocked and read ~1,600 times a probe, with a STATUS read after every write) then costs no round
  // trip to an isolated domain per read.
  struct RegisterShadows {
    std::vector<std::pair<int, uint32_t>> shadowed, inert_writes, private_writes;  // (BAR, offset)
  };
  virtual RegisterShadows register_shadows() const { return {}; }
  void set_registers_changed(std::function<void()> notify) { registers_changed_ = std::move(notify); }

  // May be null (interrupts are then only visible through irq_level()).
  void set_interrupt_sink(InterruptSink* sink) { sink_ = sink; }
  // Level currently presented on the line (after INTx Disable).
  bool irq_level() const { return line_; }

  // Read-only view for routing: which BAR a trapped access hits.
  const ConfigSpace& config() const { return config_; }

 protected:
  // A shadowed register's value may have changed (register_shadows()). Call without the model's own lock held:
  // the bus reads the registers again.
  void registers_changed() {
    if (registers_changed_) registers_changed_();
  }
  // The device's internal interrupt request. The line follows it unless Command.INTx Disable is set; the
  // Status.Interrupt bit always reflects the request (PCI 3.0 section 6.2.3).
  void set_irq_request(bool asserted);
  // A message-signalled interrupt (MSI/MSI-X) with `data`: bypasses INTx and its Disable bit, as on PCI.
  void send_message(uint32_t data) {
    if (sink_) sink_->message(data);
  }
  void reset_config();
  ConfigSpace config_;

 private:
  void update_line();
  InterruptSink* sink_ = nullptr;
  std::function<void()> registers_changed_;
  bool request_ = false;
  bool line_ = false;
};

}  // namespace side::pci
