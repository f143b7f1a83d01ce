// Analysis for rewriting a trapping device-access instruction into a jump: which instructions after it the 5-byte
// `jmp rel32` covers, how each of them runs from another address, and which addresses of a module's text are
// branch targets (a rewrite must never cut through one).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace side::emulation {

// The size of the jump a rewritten site starts with (E9 rel32).
inline constexpr unsigned kJumpLength = 5;
// At most this many bytes are moved out of the original code (the access plus what the jump overlaps).
inline constexpr unsigned kMaxRelocatedBytes = kJumpLength + 15;
inline constexpr unsigned kMaxRelocated = 8;

// One overlapped instruction and how it moves.
struct RelocatedInstruction {
  enum class Kind : uint8_t {
    kCopy,         // position-independent: copied unchanged
    kRipRelative,  // a RIP-relative memory operand: copied with its disp32 adjusted to the new address
    kJump,         // jmp rel8/rel32: re-encoded as jmp rel32 to the same target; ends the flow
    kCondJump,     // jcc rel8/rel32: re-encoded as jcc rel32 to the same target
    kCall,         // call rel32: re-encoded to the same target (it returns into the trampoline)
    kReturn,       // ret: copied unchanged; ends the flow
  };
  Kind kind = Kind::kCopy;
  uint8_t offset = 0;  // from the site
  uint8_t length = 0;
  uint8_t cond = 0;         // kCondJump: the condition code (low nibble of the opcode)
  uint8_t disp_offset = 0;  // kRipRelative: where the disp32 is inside the instruction
  uint64_t target = 0;      // kJump/kCondJump/kCall: the absolute target; kRipRelative: the absolute address
};

struct RelocationPlan {
  unsigned covered = 0;  // bytes from the site that the jump replaces (>= kJumpLength); after a jump or return the
                         // rest is dead padding that is never executed
  unsigned first = 0;    // length of the access instruction itself
  std::array<RelocatedInstruction, kMaxRelocated> insns{};  // the overlapped instructions after the access
  unsigned count = 0;
  bool ends_flow = false;         // the last overlapped instruction is a jump or return: no jump back is needed
  const char* refused = nullptr;  // why the site cannot be rewritten; nullptr if it can
};

// Decides how the instruction at `rip` (the start of `code`, a decoded device access of `first_length` bytes) can be
// replaced by a jump: decodes the instructions that follow until kJumpLength bytes are covered and checks that each
// one is ordinary (data movement or arithmetic, or a direct jump, conditional jump, call or return that can be
// re-encoded; never a trap, system, privileged or undefined instruction such as BUG()'s ud2, an indirect branch,
// loop/jrcxz or a segment load). `code` must not extend past the end of the text it belongs to. Allocation-free
// (signal handlers).
RelocationPlan plan_relocation(std::span<const uint8_t> code, uint64_t rip, unsigned first_length);

// When the instructions after an access cannot be overlapped (typically a branch target right behind it), the jump
// can end at the access instead: it overlaps the instructions just before it. `function` is the code of the function
// holding the access (from its symbol's start, which must be an instruction boundary) loaded at `function_start`;
// the access is at `rip` and `first_length` long. Finds the instruction boundary `start` closest before `rip` with
// rip + first_length - start >= kJumpLength, and plans the instructions in [start, rip) as a prefix: plain or
// RIP-relative ones only (offsets from `start`; `covered` is rip - start, `first` is 0). Refused if no boundary
// lines up with `rip` or the prefix holds anything else. `rewritten` are ranges [start, end) of the function already
// rewritten (their bytes are no longer the original instructions, but each starts and ends on an original boundary):
// decoding steps over them. Allocation-free.
RelocationPlan plan_prefix(std::span<const uint8_t> function, uint64_t function_start, uint64_t rip,
                           unsigned first_length, std::span<const std::pair<uint64_t, uint64_t>> rewritten = {});

// Emits the overlapped instructions of `plan` (their original bytes are `code`, the site's bytes) to run at
// `address`, followed by a jump back to rip + covered unless the flow ends or `jump_back` is false. `offsets[i]`
// receives where plan.insns[i] starts in `out`. Returns the bytes written (at most 8 * 6 + 5 + kMaxRelocatedBytes), or
// 0 if a target is out of rel32 reach from `address`.
unsigned emit_relocated(const RelocationPlan& plan, std::span<const uint8_t> code, uint64_t rip, uint64_t address,
                        uint8_t* out, std::array<uint16_t, kMaxRelocated>& offsets, bool jump_back = true);

// Appends to `out` every address that code in `text` (loaded at `base`) can branch to directly (jcc, jmp, call,
// loop, jrcxz, xbegin) or takes the address of RIP-relatively inside `text` (lea of a local label), by a linear
// sweep; undecodable bytes are skipped one at a time. The result is sorted and unique.
void collect_branch_targets(std::span<const uint8_t> text, uint64_t base, std::vector<uint64_t>& out);

}  // namespace side::emulation
