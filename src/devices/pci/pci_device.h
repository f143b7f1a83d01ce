// The interface the supervisor uses to drive an emulated PCI function: configuration accesses, BAR accesses
// (already decoded to bar index + offset, see ConfigSpace::decode) and reset. Interrupts leave the device through an
// InterruptSink; the device model never knows how the supervisor delivers them into the domain.
#pragma once

#include <cstdint>

#include "devices/pci/config_space.h"

namespace side::pci {

// Receives the level of the function's INTx line. Called with the device's internal lock held: implementations
// must not call back into the device (post a message, set a flag, kick an eventfd).
class InterruptSink {
 public:
  virtual ~InterruptSink() = default;
  virtual void set_irq_level(bool asserted) = 0;
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

  // Power-on / PCI reset: config space and all device state back to defaults.
  virtual void reset() = 0;

  // May be null (interrupts are then only visible through irq_level()).
  void set_interrupt_sink(InterruptSink* sink) { sink_ = sink; }
  // Level currently presented on the line (after INTx Disable).
  bool irq_level() const { return line_; }

  // Read-only view for routing: which BAR a trapped access hits.
  const ConfigSpace& config() const { return config_; }

 protected:
  // The device's internal interrupt request. The line follows it unless Command.INTx Disable is set; the
  // Status.Interrupt bit always reflects the request (PCI 3.0 section 6.2.3).
  void set_irq_request(bool asserted);
  void reset_config();
  ConfigSpace config_;

 private:
  void update_line();
  InterruptSink* sink_ = nullptr;
  bool request_ = false;
  bool line_ = false;
};

}  // namespace side::pci
