// Whether the status flags, and r10/r11, are live where the translator inserts a write check: if not, the check
// need not save them (popfq alone costs ~20 cycles; the register save is two stores, two loads and two rsp moves).
// A bounded search along every path from the write instruction (both ways at conditional branches inside the
// section), which answers "live" whenever it is unsure.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "sfi/translate.h"

namespace side::sfi {

class Liveness {
 public:
  // `relocations` sorted by offset.
  Liveness(std::span<const uint8_t> code, std::span<const SourceRelocation> relocations,
           std::function<std::string_view(uint32_t)> symbol_name);

  // CF PF AF ZF SF OF may be read at `off` before all of them are overwritten. Calls, returns and tail calls
  // through a thunk end their life (the kernel's C ABI keeps no flags across any of them).
  bool flags_live(uint64_t off) const;
  // r10 or r11 may be read at `off` before being overwritten. Calls and returns end their life: they are
  // call-clobbered in the kernel's C ABI, and GCC's -fipa-ra, which could keep them live across a call to a known
  // callee, is off with -pg (every module side loads is built with -pg -mfentry). A call or jump through
  // __x86_indirect_thunk_r10/r11 reads its register.
  bool scratch_live(uint64_t off) const;

 private:
  enum class Flow { kLive, kDead, kNext };
  using Step =
      std::function<Flow(const ZydisDecodedInstruction&, const ZydisDecodedOperand*, uint64_t off, unsigned& defined)>;
  // Runs `step` on every instruction of every path from `off` until each path is dead (step says so, or
  // `defined` reaches `all`); true as soon as one is live or the search runs out of budget.
  bool live_along(uint64_t off, unsigned all, const Step& step) const;
  std::string_view reloc_name(uint64_t off, uint64_t len) const;
  bool names_thunk(uint64_t off, uint64_t len) const;

  std::span<const uint8_t> code_;
  std::span<const SourceRelocation> relocs_;
  std::function<std::string_view(uint32_t)> symbol_name_;
  ZydisDecoder decoder_{};
};

}  // namespace side::sfi
