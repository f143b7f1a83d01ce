// Analysis for rewriting a trapping device-access instruction into a jump: which instructions after it the 5-byte
// `jmp rel32` covers, whether they can run unchanged at another address, and which addresses of a module's text are
// branch targets (a rewrite must never cut through one).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace side::emulation {

// The size of the jump a rewritten site starts with (E9 rel32).
inline constexpr unsigned kJumpLength = 5;
// At most this many bytes are moved out of the original code (the access plus the short instructions after it).
inline constexpr unsigned kMaxRelocatedBytes = kJumpLength + 15;

struct RelocationPlan {
  unsigned covered = 0;           // bytes from the site that the jump replaces, whole instructions (>= kJumpLength)
  unsigned first = 0;             // length of the access instruction itself
  const char* refused = nullptr;  // why the site cannot be rewritten; nullptr if it can
};

// Decides how the instruction at `rip` (the start of `code`, a decoded device access of `first_length` bytes) can be
// replaced by a jump: decodes the instructions that follow until kJumpLength bytes are covered and checks that each
// of them is position-independent and ordinary (no RIP-relative operand, no branch, call, return, trap, system or
// privileged instruction, no undefined opcode such as BUG()'s ud2), so it can be executed unchanged from a
// trampoline. `code` must not extend past the end of the text it belongs to. Allocation-free (signal handlers).
RelocationPlan plan_relocation(std::span<const uint8_t> code, uint64_t rip, unsigned first_length);

// Appends to `out` every address that code in `text` (loaded at `base`) can branch to directly (jcc, jmp, call,
// loop, jrcxz, xbegin) or takes the address of RIP-relatively inside `text` (lea of a local label), by a linear
// sweep; undecodable bytes are skipped one at a time. The result is sorted and unique.
void collect_branch_targets(std::span<const uint8_t> text, uint64_t base, std::vector<uint64_t>& out);

}  // namespace side::emulation
