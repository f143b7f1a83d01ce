// The sfi translator: rewrites one executable section of a kernel module so that the driver can run inside side's
// own process with its writes and control flow checked (issue #17, `--isolation sfi`). Static, at load time, before
// relocation: the input is the section as it lies in the .ko (relocation fields still zero), its relocations and its
// function entries; the output is new code, the relocations to apply to it, and the offset map.
//
// What the translated code guarantees (with the runtime's thunks and check_abi.h's slow path):
//  - every instruction that writes memory through an operand (stores, read-modify-write, lock'ed atomics, xchg,
//    cmpxchg/cmpxchg8b/16b, bts/btr/btc with a register bit offset (the word they really touch), setcc, SSE/AVX
//    stores, fxsave, pop to memory) is preceded by the inline check of check_abi.h for its effective address and
//    size; string stores (stos, movs, ins; rep or not) call the slow path with the whole range;
//  - stack writes through rsp are not checked (push, call, pushf, enter, and `mov ..., disp(%rsp)` with
//    |disp| < kStackSlack): see kStackSlack below for why that is sound;
//  - direct branches keep their targets (rel8 forms widened to rel32; loop/jrcxz expanded);
//  - every raw indirect call/jump becomes call/jmp __x86_indirect_thunk_REG (a memory operand is loaded into r11
//    first, as GCC's own thunk-extern code does: r11 is the call-clobbered scratch of the kernel ABI), every raw
//    `ret` becomes `jmp __x86_return_thunk`: the runtime's checked thunks;
//  - every call stores its return site in the shadow slot of the return address it pushes first, and is followed
//    by the return site's `lea -shadow_offset(%rsp),%rsp` (the callee comes back through the shadow slot); the
//    function-entry hook `call __fentry__` is dropped (check_abi.h).
// Anything the translator cannot make safe (an undecodable byte, an fs-relative write, a write through a vector of
// addresses, an instruction that sets rsp in a way it cannot check, a branch into the middle of an instruction)
// refuses the translation with the section offset.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "sfi/check_abi.h"
#include "sfi/code_map.h"

namespace side::sfi {

// Stack writes rsp-relative with a constant displacement below this are not checked, and `sub/add $imm, %rsp`,
// `and $-imm, %rsp` and `lea imm(%rsp),%rsp` with imm below it are probed, not checked. Sound because (1) rsp
// starts on the vCPU's driver stack, (2) every other instruction that sets rsp (mov/lea/leave/xchg/pop rsp, ...)
// is preceded by a check that the new rsp lies in that stack (check_abi.h), (3) push, pop and call move it by 8
// and touch the memory there, and each small change is followed by a probe of the new top, and (4) the runtime
// keeps SIDE_SFI_STACK_GUARD (2 * kStackSlack) of inaccessible guard at both ends of each stack half: so rsp
// never passes a guard without a fault, and an unchecked stack write lands in the vCPU's own stack or faults.
inline constexpr int64_t kStackSlack = 4096;

struct SourceRelocation {
  uint64_t offset = 0;  // in the section
  uint32_t type = 0;    // R_X86_64_*
  uint32_t symbol = 0;  // index in the module's symbol table
  int64_t addend = 0;
};

struct TranslatedRelocation {
  uint64_t offset = 0;  // in the translated code
  uint32_t type = 0;
  uint32_t symbol = 0;  // index in the module's symbol table (when `name` is empty)
  std::string name;     // a kernel symbol the translator itself references (thunks, __fentry__)
  int64_t addend = 0;
  // For PC-relative types: the address the instruction refers to is symbol + addend + bias (bias = the distance
  // from the field to the end of its instruction). A loader that maps symbol values of translated sections through
  // a CodeMap must map that address, not symbol + addend. 0 for absolute types.
  uint32_t bias = 0;
  // A second relocation of an original field: the displacement of the address computation a check inserted, or the
  // fast-path copy of a write placed twice (its other copy, after the slow path's call, carries the original).
  bool derived = false;
  // An address in the translated code itself, translated offset `addend` (a call's return site, stored in its
  // shadow slot: check_abi.h); `symbol` and `name` are unused.
  bool self = false;
};

struct TranslateRequest {
  std::span<const uint8_t> code;
  std::span<const SourceRelocation> relocations;  // those whose offset lies in the section, any order
  std::function<std::string_view(uint32_t symbol)> symbol_name;
  CheckAbi abi{};
  std::string what;  // "module section" in error messages
};

struct TranslateCounts {
  uint64_t instructions = 0;
  uint64_t write_sites = 0;         // inline checks inserted (string stores included)
  uint64_t string_sites = 0;        // of which string stores (slow path with the range)
  uint64_t flagless_sites = 0;      // of which the flags were dead: no pushfq/popfq
  uint64_t frameless_sites = 0;     // of which r10/r11 were dead: not saved
  uint64_t stack_checks = 0;        // checks of a new rsp
  uint64_t stack_probes = 0;        // probes after a small change of rsp
  uint64_t calls = 0;               // calls with their return site in the shadow slot
  uint64_t fentry_removed = 0;      // `call __fentry__` dropped (the call sites record return sites instead)
  uint64_t indirect_branches = 0;   // thunk calls/jumps, existing or converted
  uint64_t converted_indirect = 0;  // of which raw indirect branches converted
  uint64_t returns = 0;             // return-thunk jumps, existing or converted
  uint64_t converted_returns = 0;   // of which raw returns converted
  uint64_t widened_branches = 0;

  TranslateCounts& operator+=(const TranslateCounts& o);
};

struct Translation {
  std::vector<uint8_t> code;
  std::vector<TranslatedRelocation> relocations;
  CodeMap map;
  TranslateCounts counts;
};

Result<Translation> translate(const TranslateRequest& request);

}  // namespace side::sfi
