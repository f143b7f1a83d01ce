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
};

// Bytes per granule of the rights bitmap.
inline constexpr uint64_t kGranule = 8;

}  // namespace side::sfi
