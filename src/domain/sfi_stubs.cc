#include "domain/sfi_stubs.h"

#include <sys/mman.h>

#include <array>
#include <cstring>
#include <string_view>

#include "domain/private_memory.h"

namespace side::domain {

bool SfiStubs::bound_directly(const std::string& name) {
  // The compiler's thunks and function-entry hook (bound to their checked variants), static-call trampolines,
  // and helpers the kernel's inline assembly calls with most registers live (hweight, get/put_user, clear_page,
  // the cmpxchg emulations).
  static constexpr std::array<std::string_view, 9> kPrefixes = {"__x86_",       "__fentry__", "__SCT__",
                                                                "__sw_hweight", "__get_user", "__put_user",
                                                                "clear_page",   "cmpxchg",    "this_cpu_cmpxchg"};
  for (std::string_view p : kPrefixes) {
    if (name.starts_with(p)) return true;
  }
  return false;
}

Result<uint64_t> SfiStubs::stub(PrivateMemory& memory, uint64_t function, uint64_t enter_layer) {
  if (auto it = stubs_.find(function); it != stubs_.end()) return it->second;
  if (!base_) {
    auto base = memory.allocate_image(kCapacity * kStubSize);
    if (!base) return make_error("sfi import stubs: " + base.error().message);
    base_ = *base;
    std::memset(reinterpret_cast<void*>(base_), 0xcc, kCapacity * kStubSize);  // int3 until a stub is laid out
  } else {
    SIDE_TRY(memory.protect(base_, kCapacity * kStubSize, PROT_READ | PROT_WRITE));
  }
  if (stubs_.size() >= kCapacity) return make_error("sfi import stubs exhausted");
  const uint64_t at = base_ + stubs_.size() * kStubSize;
  if (function >> 32 || at + kStubSize + 0x80000000ull < enter_layer || enter_layer + 0x80000000ull < at) {
    return make_error("sfi import stub out of reach of its function");
  }
  // 41 bb imm32: mov $function,%r11d; e9 rel32: jmp enter_layer; int3 padding.
  uint8_t code[kStubSize] = {0x41, 0xbb};
  const auto imm = static_cast<uint32_t>(function);
  std::memcpy(code + 2, &imm, 4);
  code[6] = 0xe9;
  const auto rel = static_cast<int32_t>(static_cast<int64_t>(enter_layer) - static_cast<int64_t>(at + 11));
  std::memcpy(code + 7, &rel, 4);
  std::memset(code + 11, 0xcc, kStubSize - 11);
  std::memcpy(reinterpret_cast<void*>(at), code, sizeof code);
  stubs_[function] = at;
  SIDE_TRY(memory.protect(base_, kCapacity * kStubSize, PROT_READ | PROT_EXEC));
  return at;
}

}  // namespace side::domain
