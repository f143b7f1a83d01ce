// --isolation sfi: the stubs through which a driver calls the kernel-API layer (kapi/sfi_thunks.S).
//
// Driver code runs on its vCPU's driver stack, which every vCPU's driver code may write; the layer and side run on
// the vCPU thread's own stack, which no driver code can write. A driver's import of a layer function is bound to a
// stub that switches to the layer's stack for the call and comes back through the shadow slot of the driver's
// return address (kapi/sfi_abi.h), as every call from translated code does:
//  - a C function: `mov $function,%r11d; jmp side_kapi_sfi_enter_layer`, which copies the stack-passed arguments;
//  - a helper called with registers live (the static-call trampolines, hweight, the user-access and cmpxchg
//    helpers: the kernel's inline assembly expects every register but its outputs intact): a stub that switches
//    stacks through the vCPU's crossing state without touching a register, calls it and returns.
// The stubs are valid indirect-branch targets, so a layer function the driver stores in an ops table crosses the
// same way when the layer calls it. The compiler's thunks are bound to their checked variants directly: they are
// jumped to and keep nothing on the stack.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/result.h"

namespace side::domain {

class PrivateMemory;

class SfiStubs {
 public:
  static constexpr uint64_t kSlot = 16;
  static constexpr uint64_t kCapacity = 8192;  // slots; the layer exports fewer functions

  // How a driver's import of a layer function named `name` is bound.
  enum class Binding { kDirect, kCall, kKeepRegisters };
  static Binding binding(const std::string& name);

  // Where the stubs find the layer's crossing state: side_kapi_sfi_enter_layer, and the per-cpu offset of
  // side_kapi_sfi_crossing.
  struct Crossing {
    uint64_t enter_layer = 0;
    uint64_t percpu = 0;
  };
  // The stub that enters `function` as `binding` says, laid out on first use (the stubs' pages are read+execute
  // except while one is written).
  Result<uint64_t> stub(PrivateMemory& memory, uint64_t function, Binding binding, const Crossing& crossing);

 private:
  Result<uint64_t> place(PrivateMemory& memory, const uint8_t* code, uint64_t size, uint64_t function);

  uint64_t base_ = 0;
  uint64_t used_ = 0;                             // slots
  std::unordered_map<uint64_t, uint64_t> stubs_;  // function -> stub
};

}  // namespace side::domain
