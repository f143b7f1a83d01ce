// --isolation sfi: the stubs through which a driver calls the kernel-API layer (kapi/sfi_thunks.S).
//
// Driver code runs on its vCPU's driver stack, which every vCPU's driver code may write; the layer and side run on
// the vCPU thread's own stack, which no driver code can write. A driver's import of a layer function is bound to
// a 16-byte stub, `mov $function,%r11d; jmp side_kapi_sfi_enter_layer`, and enter_layer switches to the layer's
// stack for the call and back for the return. The stubs are valid indirect-branch targets, so a layer function
// the driver stores in an ops table crosses the same way when the layer calls it.
//
// Functions called with conventions other than the C ABI's (registers the caller expects intact, r10/r11 among
// them: the compiler's thunks, static-call trampolines, the alternatives-called helpers) are bound directly; they
// are assembly leaves of a few instructions that keep nothing on the stack.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/result.h"

namespace side::domain {

class PrivateMemory;

class SfiStubs {
 public:
  static constexpr uint64_t kStubSize = 16;
  static constexpr uint64_t kCapacity = 4096;  // the layer exports fewer functions

  // Whether an import of `name` must be bound to the function itself (a non-C calling convention).
  static bool bound_directly(const std::string& name);
  // The stub that enters `function` through `enter_layer`, laid out on first use (the stubs' pages are
  // read+execute except while one is written).
  Result<uint64_t> stub(PrivateMemory& memory, uint64_t function, uint64_t enter_layer);
  // The stubs laid out so far: [base, base + count * kStubSize).
  uint64_t base() const { return base_; }
  uint64_t count() const { return stubs_.size(); }

 private:
  uint64_t base_ = 0;
  std::unordered_map<uint64_t, uint64_t> stubs_;  // function -> stub
};

}  // namespace side::domain
