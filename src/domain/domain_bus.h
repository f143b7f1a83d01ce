// The emulator's view of a domain's devices, shared by the trap path and rewritten sites. Memory accesses outside a
// live window (ins/outs buffers, say) are refused: emulation reaches devices only.
#pragma once

#include "domain/domain.h"
#include "emulation/emulate.h"

namespace side::domain {

class DomainBus final : public emulation::Bus {
 public:
  explicit DomainBus(Domain& d) : d_(d) {}
  Result<uint64_t> read(emulation::Space space, uint64_t address, unsigned width) override {
    if (space == emulation::Space::kMemory && address < 0x10000) return make_error("not device memory");
    return d_.io_read(address, width);
  }
  Status write(emulation::Space space, uint64_t address, unsigned width, uint64_t value) override {
    if (space == emulation::Space::kMemory && address < 0x10000) return make_error("not device memory");
    return d_.io_write(address, width, value);
  }

 private:
  Domain& d_;
};

}  // namespace side::domain
