#include "domain/sfi_stubs.h"

#include <sys/mman.h>

#include <array>
#include <cstring>
#include <string_view>
#include <vector>

#include "domain/private_memory.h"
#include "kapi/sfi_abi.h"

namespace side::domain {
namespace {

void put32(std::vector<uint8_t>& code, uint64_t v) {
  const auto w = static_cast<uint32_t>(v);
  const auto* b = reinterpret_cast<const uint8_t*>(&w);
  code.insert(code.end(), b, b + 4);
}

bool reaches(uint64_t from, uint64_t to) {
  const int64_t rel = static_cast<int64_t>(to) - static_cast<int64_t>(from);
  return rel == static_cast<int32_t>(rel);
}

// mov $function,%r11d; jmp enter_layer (at `at`).
std::vector<uint8_t> call_stub(uint64_t at, uint64_t function, uint64_t enter_layer) {
  std::vector<uint8_t> code = {0x41, 0xbb};
  put32(code, function);
  code.push_back(0xe9);
  put32(code, enter_layer - (at + 11));
  return code;
}

// mov %rsp,%gs:entry_sp; mov %gs:layer_sp,%rsp; push %gs:entry_sp; call function; pop %rsp;
// lea SHADOW(%rsp),%rsp; ret. No register or flag changes but rsp; the driver's rsp is kept on the layer's stack.
std::vector<uint8_t> keep_registers_stub(uint64_t at, uint64_t function, uint64_t percpu) {
  const uint64_t entry_sp = percpu + SIDE_SFI_ENTRY_SP, layer_sp = percpu + SIDE_SFI_LAYER_SP;
  std::vector<uint8_t> code = {0x65, 0x48, 0x89, 0x24, 0x25};
  put32(code, entry_sp);
  code.insert(code.end(), {0x65, 0x48, 0x8b, 0x24, 0x25});
  put32(code, layer_sp);
  code.insert(code.end(), {0x65, 0xff, 0x34, 0x25});
  put32(code, entry_sp);
  code.push_back(0xe8);
  put32(code, function - (at + code.size() + 4));
  code.push_back(0x5c);
  code.insert(code.end(), {0x48, 0x8d, 0xa4, 0x24});
  put32(code, SIDE_SFI_SHADOW_OFFSET);
  code.push_back(0xc3);
  return code;
}

}  // namespace

SfiStubs::Binding SfiStubs::binding(const std::string& name) {
  // The compiler's thunks: their checked variants (kapi/sfi_thunks.S), jumped to.
  if (name.starts_with("__x86_") || name == "__fentry__") return Binding::kDirect;
  static constexpr std::array<std::string_view, 7> kKeepRegisters = {
      "__SCT__", "__sw_hweight", "__get_user", "__put_user", "clear_page", "cmpxchg", "this_cpu_cmpxchg"};
  for (std::string_view p : kKeepRegisters) {
    if (name.starts_with(p)) return Binding::kKeepRegisters;
  }
  return Binding::kCall;
}

Result<uint64_t> SfiStubs::stub(PrivateMemory& memory, uint64_t function, Binding binding, const Crossing& crossing) {
  if (binding == Binding::kDirect) return function;
  if (auto it = stubs_.find(function); it != stubs_.end()) return it->second;
  if (!base_) {
    auto base = memory.allocate_image(kCapacity * kSlot);
    if (!base) return make_error("sfi import stubs: " + base.error().message);
    base_ = *base;
    std::memset(reinterpret_cast<void*>(base_), 0xcc, kCapacity * kSlot);  // int3 until a stub is laid out
  }
  const uint64_t at = base_ + used_ * kSlot;
  if (function >> 32 || crossing.percpu >> 31 || !reaches(at, function) || !reaches(at, crossing.enter_layer)) {
    return make_error("sfi import stub out of reach of its function");
  }
  const std::vector<uint8_t> code = binding == Binding::kCall ? call_stub(at, function, crossing.enter_layer)
                                                              : keep_registers_stub(at, function, crossing.percpu);
  return place(memory, code.data(), code.size(), function);
}

Result<uint64_t> SfiStubs::place(PrivateMemory& memory, const uint8_t* code, uint64_t size, uint64_t function) {
  const uint64_t slots = (size + kSlot - 1) / kSlot;
  if (used_ + slots > kCapacity) return make_error("sfi import stubs exhausted");
  const uint64_t at = base_ + used_ * kSlot;
  SIDE_TRY(memory.protect(base_, kCapacity * kSlot, PROT_READ | PROT_WRITE));
  std::memcpy(reinterpret_cast<void*>(at), code, size);
  SIDE_TRY(memory.protect(base_, kCapacity * kSlot, PROT_READ | PROT_EXEC));
  used_ += slots;
  stubs_[function] = at;
  return at;
}

}  // namespace side::domain
