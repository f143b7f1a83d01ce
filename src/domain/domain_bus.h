// The emulator's view of a domain's memory and devices, shared by the trap path and rewritten sites. Device
// windows and I/O ports reach the devices. The other memory operand of ins/outs (the driver's buffer) may be the
// domain's arena (kmalloc, pages, skb data) or the virtual CPU's own stack (8390's padding buffer for short frames),
// which are plain memory here; any other address is refused, so a driver that points a string I/O instruction
// anywhere else faults instead of making the emulator touch it. In sfi mode the vCPU thread's stack is the
// layer's and side's, and the arena holds objects the driver may not write (freed ones, the layer's own): there
// the emulator writes only what the driver itself may write (the rights bitmap). The translator's check before the
// instruction is not enough: a rewritten site's trampoline keeps the registers on the driver stack, where driver
// code on another vCPU can change rdi or rcx after the check.
#pragma once

#include <cstring>

#include "domain/domain.h"
#include "domain/vcpu.h"
#include "emulation/emulate.h"
#include "sfi/runtime.h"

namespace side::domain {

class DomainBus final : public emulation::Bus {
 public:
  explicit DomainBus(Domain& d) : d_(d) {}
  Result<uint64_t> read(emulation::Space space, uint64_t address, unsigned width) override {
    if (space == emulation::Space::kMemory) {
      if (uint8_t* p = buffer(address, width)) {
        uint64_t v = 0;
        std::memcpy(&v, p, width);
        return v;
      }
      if (address < 0x10000) return make_error("not device memory");
    }
    return d_.io_read(address, width);
  }
  Status write(emulation::Space space, uint64_t address, unsigned width, uint64_t value) override {
    if (space == emulation::Space::kMemory) {
      if (uint8_t* p = buffer(address, width)) {
        if (!driver_may_write(address, width)) return make_error("not memory the driver may write");
        std::memcpy(p, &value, width);
        return {};
      }
      if (address < 0x10000) return make_error("not device memory");
    }
    return d_.io_write(address, width, value);
  }

 private:
  // `address` as a pointer when [address, address + width) lies in the arena or this vCPU's stack, else null.
  uint8_t* buffer(uint64_t address, unsigned width) const {
    auto* p = reinterpret_cast<uint8_t*>(address);
    if (width > 8) return nullptr;
    return d_.arena().contains(p, width) || on_vcpu_stack(address, width) ? p : nullptr;
  }

  bool driver_may_write(uint64_t address, unsigned width) const {
    if (!d_.sfi()) return true;
    sfi::Runtime* sfi = sfi::Runtime::active();
    return sfi && sfi->rights().allowed(address, width);
  }

  Domain& d_;
};

}  // namespace side::domain
