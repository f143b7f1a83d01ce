/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `--isolation sfi`: what the kernel-API layer's checks (sfi_thunks.S, sfi_checked.c) and the host runtime
 * (src/sfi) share. Assembly-safe: constants only, the C structure is behind !__ASSEMBLY__.
 *
 * The host fills `side_kapi_sfi` (a variable of the layer, never writable by driver code: the layer's data has no
 * rights bits) after loading the layer; with `enabled` clear nothing is checked, and drivers of the other modes
 * never link against the checked variants anyway (the host resolves X to side_kapi_sfi_X only in sfi mode).
 */
#ifndef SIDE_SFI_ABI_H
#define SIDE_SFI_ABI_H

/* The shadow slot of a return address at A is A + SIDE_SFI_SHADOW_OFFSET (src/sfi/layout.h: kShadowOffset); the
 * driver stacks are slots of 2 * SIDE_SFI_SHADOW_OFFSET, the stack in the lower half, its shadow in the upper.
 * Only trusted code writes a shadow slot: the store the translator puts before each call (the call's own return
 * site, an immediate), and the layer's crossings. */
#define SIDE_SFI_SHADOW_OFFSET 0x100000
#define SIDE_SFI_STACK_SIZE SIDE_SFI_SHADOW_OFFSET
/* Unmapped at both ends of each stack half: pushes and pops walk into it and fault, and every other change of rsp
 * is either checked against the vCPU's own stack or smaller than the translator's kStackSlack (4 KiB) and followed
 * by a probe of the new top, so rsp never leaves its vCPU's stack half without a fault. */
#define SIDE_SFI_STACK_GUARD 8192
/* Where rsp may be, per vCPU: [stack_floor, stack_floor + SIDE_SFI_STACK_SPAN), stack_floor (the crossing state
 * below) being the lowest byte above the bottom guard; the span leaves room above for a crossing to read its
 * stack-passed arguments below the top guard. */
#define SIDE_SFI_STACK_SPAN (SIDE_SFI_STACK_SIZE - 2 * SIDE_SFI_STACK_GUARD - 8 * (SIDE_SFI_STACK_ARGS + 4))

/* Byte offsets of the fields of struct side_sfi_state, for the thunks. */
#define SIDE_SFI_ENABLED 0
#define SIDE_SFI_WINDOW_BASE 8
#define SIDE_SFI_WINDOW_LOG2 16
#define SIDE_SFI_RIGHTS 24
#define SIDE_SFI_CFI_BITS 32
#define SIDE_SFI_CFI_BASE 40
#define SIDE_SFI_CFI_LEN 48
#define SIDE_SFI_STACK_BASE 56
#define SIDE_SFI_STACK_LEN 64
#define SIDE_SFI_IO_BASE 72
#define SIDE_SFI_IO_LEN 80
#define SIDE_SFI_LAYER_BASE 88
#define SIDE_SFI_LAYER_LEN 96

/*
 * The crossings between driver code and the layer (sfi_thunks.S) switch stacks: driver code runs on its vCPU's
 * driver stack (in the window, writable by every vCPU's driver code), the layer and side on the vCPU thread's own
 * stack (outside the window: no driver code can write it). Per vCPU, the layer's per-cpu variable
 * side_kapi_sfi_crossing holds where each side's stack continues: SIDE_SFI_DRIVER_SP, the driver stack pointer a
 * call from the layer into the driver starts below, and SIDE_SFI_LAYER_SP, the layer stack pointer a call from
 * the driver into the layer starts below. Each crossing saves the previous value on the layer's stack and puts it
 * back on the way out, so crossings nest (driver -> layer -> driver callback -> layer ...).
 */
#define SIDE_SFI_DRIVER_SP 0
#define SIDE_SFI_LAYER_SP 8
#define SIDE_SFI_VIOLATION_SP 16  /* the write checks' slow path: the driver stack pointer while it switches */
#define SIDE_SFI_SCRATCH_SPILL 24 /* r10 and r11 as a translated check found them (src/sfi/check_abi.h) */
#define SIDE_SFI_STACK_FLOOR 40   /* the lowest valid rsp of this vCPU's driver stack (see SIDE_SFI_STACK_SPAN) */
#define SIDE_SFI_ENTRY_SP 48      /* a crossing's scratch while it switches stacks without a free register */
#define SIDE_SFI_CFI_SCRATCH 56   /* rax and r11 while an indirect-branch check runs (sfi_thunks.S) */
/* Stack-passed arguments copied at each crossing, in 8-byte words: with the six register arguments, calls of up
 * to 6 + 12 integer arguments cross intact (printk-style calls of drivers pass up to about a dozen). */
#define SIDE_SFI_STACK_ARGS 12
/* Where a vCPU's driver stack pointer starts, below the top of the stack half: above the top guard, with room
 * for the stack-passed arguments a crossing copies. */
#define SIDE_SFI_STACK_TOP_GAP (SIDE_SFI_STACK_GUARD + 4096)
/* The length the translator's stack-pointer check passes to the slow path (check_abi.h) for a new rsp outside the
 * vCPU's stack: a fault of its own kind, not a write. */
#define SIDE_SFI_BAD_STACK_LENGTH (~0ull - 1)

/* What a failed check is (side_host_sfi_fault's `what`). */
#define SIDE_SFI_WRITE 1  /* a write outside what the driver may write */
#define SIDE_SFI_BRANCH 2 /* an indirect call or jump to no function entry */
#define SIDE_SFI_RETURN 3 /* a return address that is not the one the call pushed */
#define SIDE_SFI_STACK 4  /* driver code running on a stack that is not a driver stack */

#ifndef __ASSEMBLY__
struct side_sfi_state {
  unsigned long long enabled;
  unsigned long long window_base;
  unsigned long long window_log2;
  unsigned long long rights;   /* bitmap: bit g = bytes [window_base + 8g, +8) writable */
  unsigned long long cfi_bits; /* bitmap: bit i = cfi_base + i is a valid indirect-branch target */
  unsigned long long cfi_base;
  unsigned long long cfi_len;
  unsigned long long stack_base; /* the driver stacks with their shadows, [stack_base, stack_base + stack_len) */
  unsigned long long stack_len;
  /* The device windows (ioremap): never accessible, every access traps and is emulated as a device access,
   * which checks it. A write there is let through to trap. */
  unsigned long long io_base;
  unsigned long long io_len;
  /* The layer's image: an indirect call from the layer to a target in it stays on the current stack. */
  unsigned long long layer_base;
  unsigned long long layer_len;
};

struct side_sfi_crossing {
  unsigned long long driver_sp;
  unsigned long long layer_sp;
  unsigned long long violation_sp;
  unsigned long long scratch_spill[2];
  unsigned long long stack_floor;
  unsigned long long entry_sp;
  unsigned long long cfi_scratch[2];
};
#endif

#endif /* SIDE_SFI_ABI_H */
