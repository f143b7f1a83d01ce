// The contract between the sfi translator (src/sfi/translate*) and the sfi runtime (src/sfi/runtime*, the kernel-API
// layer's thunks): how a translated driver checks a memory write before it happens. See docs of issue #17 and
// /work/briefs/sfi-design.md for the whole design; this header is its binding part.
//
// Inline fast path emitted by the translator before each memory write of size S (1..64 bytes) at effective address
// EA: EA and EA+S-1 both inside the window AND their granules' bits set; otherwise call `violation_entry`.
//
// `violation_entry` ABI (implemented by the runtime, in assembly): entered by `call` with the stack aligned however
// the driver left it; r11 = EA, r10 = S (or the byte length for string ops), [rsp] = return address into the
// translated code; every other register and the flags must be preserved if it returns. It returns only when the
// write is allowed after all (e.g. the range spans granules whose bits are all set: the slow path checks the whole
// range); otherwise it never returns: it reports a driver fault (kind "sfi write", the driver location = the
// ORIGINAL instruction's module+offset, the address) and unwinds the vCPU like any other driver fault.
//
// String instructions (rep stos/movs) and any write whose range is not static call the slow path with the range.
//
// Return addresses: every call the translated code makes, the slow path's included, is preceded by a store of the
// call's return site into the shadow slot of the return address it pushes (rsp - 8 + shadow_offset), which the
// driver's own writes can never reach; the slow path returns to that address, never to the one on the stack. A
// call into driver code or the layer comes back through the shadow slot (`ret` with rsp at the slot): the
// translator follows each such call with `lea -shadow_offset(%rsp),%rsp`.
//
// The stack pointer: an instruction that sets rsp to a computed value is preceded by an inline check that the new
// value lies in [%gs:stack_floor, %gs:stack_floor + stack_span), the vCPU's own driver stack, and calls the slow
// path with r11 = the value and r10 = kBadStackLength if not. A small constant change (below kStackSlack) is
// followed by a probe of the new top of the stack instead, which faults in the unmapped guard around the stack.
// The translator preserves every register and the flags across the inserted check.
//
// The check saves r10/r11 (and the flags) below rsp, on the driver stack, which other vCPUs' driver code may
// write. A write whose address depends on r10 or r11 must not take them back from there after its check (the
// store would then go where a racing vCPU chose, unchecked): for those, the check also keeps them at
// %gs:scratch_spill (16 bytes of the layer's per-cpu data, which no driver code may write) and takes them back
// from there. 0: no such slots (the write is then translated with the stack frame alone; only for tests).
#pragma once

#include <cstdint>

namespace side::sfi {

struct CheckAbi {
  uint64_t window_base;      // all memory a driver may ever write lies in [window_base, window_base + 2^window_log2)
  unsigned window_log2;      // window_base is aligned to 2^window_log2
  uint64_t rights_bitmap;    // 1 bit per 8-byte granule of the window: bit g set = bytes [base+8g, base+8g+8) writable
  uint64_t violation_entry;  // absolute address of the slow path, called as described above
  uint64_t scratch_spill = 0;  // per-cpu offset of r10's and r11's slots (r10 at +0, r11 at +8), see above
  uint64_t stack_floor = 0;    // per-cpu offset of the lowest valid rsp of the vCPU's driver stack, see below
  uint64_t stack_span = 0;     // rsp is valid in [%gs:stack_floor, %gs:stack_floor + stack_span)
  uint64_t shadow_offset = 0;  // a call's return site is stored this far above the return address it pushes
};

// The slow path's length for a new rsp outside [floor, floor + span): a fault of its own kind, not a write
// (kapi/sfi_abi.h: SIDE_SFI_BAD_STACK_LENGTH).
inline constexpr uint64_t kBadStackLength = ~uint64_t{0} - 1;

// Bytes per granule of the rights bitmap.
inline constexpr uint64_t kGranule = 8;

}  // namespace side::sfi
