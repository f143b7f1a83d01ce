/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * --isolation sfi: the checked variants of the compiler's thunks (thunks.S), and the crossings between driver code
 * and the layer. The host resolves a driver's imports of __x86_return_thunk and __x86_indirect_thunk_REG to the
 * checked variants in sfi mode only, so the other modes keep the plain one-instruction thunks.
 *
 *   indirect calls and jumps  the target must be a function entry (a bit in the CFI bitmap: the FUNC symbols of
 *                             the loaded modules, the import stubs and the layer's functions); a layer function
 *                             is entered through enter_layer, on the layer's stack, like an import;
 *   __x86_return_thunk        returns only to the address in the shadow slot of its return address.
 *
 * Return addresses (sfi_abi.h): driver code runs on its vCPU's driver stack, which every vCPU's driver code may
 * write, so no return address is ever taken from it. Before each call the translated code stores the call's return
 * site in the shadow slot of the return address the call pushes (SIDE_SFI_SHADOW_OFFSET above it), which no driver
 * code can write, and every way back into driver code takes the address from there: the return thunk checks the
 * pushed copy against it (a smashed return address is a fault) and then returns through the shadow slot itself,
 * `lea SHADOW(%rsp),%rsp; ret`, so that the return stays predicted; the return site the translator placed after
 * each call takes rsp back down (`lea -SHADOW(%rsp),%rsp`). enter_layer returns the same way, and the write checks'
 * slow path jumps to the address in the shadow slot. Every slot used is first checked to lie in the vCPU's own
 * driver stack (its stack_floor and SIDE_SFI_STACK_SPAN), so no vCPU's code reaches another's shadow.
 *
 * Stacks (sfi_abi.h, side_kapi_sfi_crossing): the layer and side run on the vCPU thread's own stack, outside the
 * window, which no driver code can write. So no return address, saved register or local of the layer's or side's
 * frames is ever where a driver (on this vCPU or another) could change it. The crossings:
 *   layer -> driver  the layer's indirect thunks (thunks.S), for a target outside the layer: enter_driver;
 *   driver -> layer  each of the driver's imports of a layer function is bound to a stub (the host's
 *                    domain/sfi_stubs.cc): a C function's stub loads it into r11 and jumps to enter_layer; a helper
 *                    called with registers live (hweight, the static-call trampolines, ...) gets a stub that
 *                    switches stacks itself and keeps every register;
 *   side -> driver   only through the layer (side_kapi_call_init/exit), so through enter_driver.
 * Each copies SIDE_SFI_STACK_ARGS words of stack-passed arguments and keeps everything it needs to come back
 * (the target, the other stack's pointer) on the layer's stack, never rereading the driver stack for it.
 *
 * Every register the checks use is saved and restored: the registers a call passes or returns stay intact. The
 * flags are not preserved: at a call, a function entry or a return they hold nothing the ABI keeps. r11 is free at
 * a call (no argument, and the translator's own load of an indirect target), which the crossings use; r10 is kept
 * (the paravirt calls expect it intact).
 * side_kapi_sfi_violation is the write checks' slow path (the translator's ABI, src/sfi/check_abi.h).
 */
#include <linux/linkage.h>
#include <asm/nospec-branch.h>
#include <asm/percpu.h>
#include <asm/processor-flags.h>
#include "sfi_abi.h"

#define SFI(field) side_kapi_sfi+SIDE_SFI_##field(%rip)
#define CROSSING(field) PER_CPU_VAR(side_kapi_sfi_crossing+SIDE_SFI_##field)

/* A failed check: the fault is reported (and the vCPU unwound: \fn never returns) on the layer's stack, where no
 * driver code can change the reporting code's frames while it runs. */
.macro SIDE_SFI_REPORT fn
	movq %rsp, %rax
	subq SFI(STACK_BASE), %rax
	cmpq SFI(STACK_LEN), %rax
	jae 8f
	movq CROSSING(LAYER_SP), %rsp
8:	call \fn
	ud2
.endm

	.text

/* \reg - floor < span: is the address in \reg (clobbered) inside this vCPU's own driver stack? Jumps to \bad if not. */
.macro SIDE_SFI_OWN_STACK reg, bad
	subq CROSSING(STACK_FLOOR), \reg
	cmpq $SIDE_SFI_STACK_SPAN, \reg
	jae \bad
.endm

/*
 * Is the target in %\reg a function entry (its CFI bit)? Jumps to \bad if not. rax and r11 are kept in this vCPU's
 * CFI scratch slots of the crossing state, which no driver code can write, and put back from there: \reg keeps the
 * value that was checked even when it is rax or r11, whatever other vCPUs write to the driver stacks meanwhile.
 * The flags are left as `cmp LAYER_LEN` set them: below = the target is in the layer.
 */
/* r11 = the value %\reg had when SIDE_SFI_CFI began (rax and r11 themselves are in the scratch slots then). */
.macro SIDE_SFI_TARGET_TO_R11 reg
	.ifc \reg, rax
	movq CROSSING(CFI_SCRATCH), %r11
	.else
	.ifc \reg, r11
	movq CROSSING(CFI_SCRATCH)+8, %r11
	.else
	movq %\reg, %r11
	.endif
	.endif
.endm

.macro SIDE_SFI_CFI reg, bad
	movq %rax, CROSSING(CFI_SCRATCH)
	movq %r11, CROSSING(CFI_SCRATCH)+8
	SIDE_SFI_TARGET_TO_R11 \reg
	subq SFI(CFI_BASE), %r11
	cmpq SFI(CFI_LEN), %r11
	jae \bad
	movq SFI(CFI_BITS), %rax
	btq %r11, (%rax)
	jnc \bad
	SIDE_SFI_TARGET_TO_R11 \reg
	subq SFI(LAYER_BASE), %r11
	cmpq SFI(LAYER_LEN), %r11
	movq CROSSING(CFI_SCRATCH), %rax
	movq CROSSING(CFI_SCRATCH)+8, %r11
.endm

.macro SIDE_SFI_INDIRECT_THUNK reg
/* Driver code's indirect calls and jumps: a driver function or stub is jumped to; a layer function (an ops-table
 * or paravirt pointer the layer filled in) is entered on the layer's stack, as an import would be. */
SYM_FUNC_START(side_kapi_sfi___x86_indirect_thunk_\reg)
	SIDE_SFI_CFI \reg, 1f
	jb 2f
	ANNOTATE_RETPOLINE_SAFE
	jmp *%\reg
2:	movq %\reg, %r11
	jmp side_kapi_sfi_enter_layer
1:	movq CROSSING(CFI_SCRATCH), %rax
	movq CROSSING(CFI_SCRATCH)+8, %r11
	movq %\reg, %rsi
	movq (%rsp), %rdx
	SIDE_SFI_REPORT side_kapi_sfi_bad_branch
SYM_FUNC_END(side_kapi_sfi___x86_indirect_thunk_\reg)

/*
 * The layer's indirect calls in sfi mode (thunks.S): a target in the layer is checked and called on the layer's
 * stack; any other target is driver code, entered on the driver stack (enter_driver checks it).
 */
SYM_FUNC_START(side_kapi_sfi_layer_thunk_\reg)
	SIDE_SFI_CFI \reg, 1f
	jae 2f
	ANNOTATE_RETPOLINE_SAFE
	jmp *%\reg
2:	movq %\reg, %r11
	jmp side_kapi_sfi_enter_driver
1:	movq CROSSING(CFI_SCRATCH), %rax
	movq CROSSING(CFI_SCRATCH)+8, %r11
	movq %\reg, %rsi
	movq (%rsp), %rdx
	jmp side_kapi_sfi_bad_branch
SYM_FUNC_END(side_kapi_sfi_layer_thunk_\reg)
.endm

	SIDE_SFI_INDIRECT_THUNK rax
	SIDE_SFI_INDIRECT_THUNK rbx
	SIDE_SFI_INDIRECT_THUNK rcx
	SIDE_SFI_INDIRECT_THUNK rdx
	SIDE_SFI_INDIRECT_THUNK rsi
	SIDE_SFI_INDIRECT_THUNK rdi
	SIDE_SFI_INDIRECT_THUNK rbp
	SIDE_SFI_INDIRECT_THUNK r8
	SIDE_SFI_INDIRECT_THUNK r9
	SIDE_SFI_INDIRECT_THUNK r10
	SIDE_SFI_INDIRECT_THUNK r11
	SIDE_SFI_INDIRECT_THUNK r12
	SIDE_SFI_INDIRECT_THUNK r13
	SIDE_SFI_INDIRECT_THUNK r14
	SIDE_SFI_INDIRECT_THUNK r15

/*
 * Reached by `jmp`: [rsp] is the return address. It must lie in this vCPU's driver stack and equal its shadow
 * slot, the return site the call recorded; the return then goes through the shadow slot (the return site takes
 * rsp back down), so a value another vCPU writes to [rsp] after the comparison changes nothing. r11 and the flags
 * are free at a return.
 */
SYM_FUNC_START(side_kapi_sfi___x86_return_thunk)
	movq %rsp, %r11
	SIDE_SFI_OWN_STACK %r11, 1f
	movq SIDE_SFI_SHADOW_OFFSET(%rsp), %r11
	cmpq %r11, (%rsp)
	jne 2f
	leaq SIDE_SFI_SHADOW_OFFSET(%rsp), %rsp
	ANNOTATE_UNRET_SAFE
	ret
1:	movq %rsp, %rsi
	movq (%rsp), %rdx
	SIDE_SFI_REPORT side_kapi_sfi_bad_stack
2:	movq (%rsp), %rsi
	movq %r11, %rdx
	SIDE_SFI_REPORT side_kapi_sfi_bad_return
SYM_FUNC_END(side_kapi_sfi___x86_return_thunk)

/*
 * layer -> driver. r11 = the target, [rsp] = the return address into the layer, on the layer's stack. The target
 * must be a function entry; the driver's code then runs below the driver stack pointer of this vCPU's crossing
 * state, with the stack-passed arguments copied there and the return site in the shadow slot; when it returns, the
 * layer's stack pointer is taken from the crossing state (whatever rsp the driver left), so nothing the driver
 * stack holds decides where the layer goes on.
 */
SYM_FUNC_START(side_kapi_sfi_enter_driver)
	pushq %rax
	movq %r11, %rax
	subq SFI(CFI_BASE), %rax
	cmpq SFI(CFI_LEN), %rax
	jae 9f
	movq SFI(CFI_BITS), %r10
	btq %rax, (%r10)
	jnc 9f
	popq %rax
	pushq CROSSING(LAYER_SP)
	pushq %r11
	movq %rsp, CROSSING(LAYER_SP)
	movq %rsp, %r10
	movq CROSSING(DRIVER_SP), %rsp
	andq $-16, %rsp
	.irp i, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0
	pushq 24+8*\i(%r10)
	.endr
	leaq side_kapi_sfi_enter_driver_ret(%rip), %r11
	movq %r11, SIDE_SFI_SHADOW_OFFSET-8(%rsp)
	ANNOTATE_RETPOLINE_SAFE
	call *(%r10)
	/* Where each driver function the layer called returns (sfi_checked.c names the function instead). */
	.globl side_kapi_sfi_enter_driver_ret
side_kapi_sfi_enter_driver_ret:
	movq CROSSING(LAYER_SP), %rsp
	leaq 8(%rsp), %rsp
	popq CROSSING(LAYER_SP)
	ret
9:	popq %rax
	movq %r11, %rsi
	movq (%rsp), %rdx
	jmp side_kapi_sfi_bad_branch
SYM_FUNC_END(side_kapi_sfi_enter_driver)

/*
 * driver -> layer, from an import stub or the indirect thunk: r11 = the layer function, [rsp] = the return address
 * into the driver, on the driver stack, its return site in the shadow slot. The layer function runs below the
 * layer stack pointer of the crossing state; the driver's stack pointer, checked to be this vCPU's, is kept on the
 * layer's stack, and the return goes through its shadow slot. Every register but r11 and the flags is kept (the
 * paravirt calls rely on r10).
 */
SYM_FUNC_START(side_kapi_sfi_enter_layer)
	movq %rsp, CROSSING(ENTRY_SP)
	movq CROSSING(LAYER_SP), %rsp
	pushq %r11
	movq CROSSING(ENTRY_SP), %r11
	SIDE_SFI_OWN_STACK %r11, 9f
	movq CROSSING(ENTRY_SP), %r11
	pushq SIDE_SFI_SHADOW_OFFSET(%r11)	/* the return site, for kapi.h's side_driver_caller */
	pushq %r11
	pushq CROSSING(DRIVER_SP)
	movq %r11, CROSSING(DRIVER_SP)
	.irp i, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0
	pushq 8+8*\i(%r11)
	.endr
	ANNOTATE_RETPOLINE_SAFE
	call *8*SIDE_SFI_STACK_ARGS+24(%rsp)
	/* The return address of every layer function a driver calls: kapi.h's SIDE_CALLER looks past it. */
	.globl side_kapi_sfi_enter_layer_ret
side_kapi_sfi_enter_layer_ret:
	leaq 8*SIDE_SFI_STACK_ARGS(%rsp), %rsp
	popq CROSSING(DRIVER_SP)
	popq %r11
	leaq SIDE_SFI_SHADOW_OFFSET(%r11), %rsp
	ANNOTATE_UNRET_SAFE
	ret
9:	movq CROSSING(ENTRY_SP), %rsi
	movq %rsi, %rdx
	call side_kapi_sfi_bad_stack
	ud2
SYM_FUNC_END(side_kapi_sfi_enter_layer)

/*
 * The write checks' slow path (check_abi.h): called with r11 = the address written, r10 = the length, [rsp] = the
 * return address into the translated code, which the call site also stored in its shadow slot. Returns, with every
 * register but r10 and r11 and the flags intact, when the whole range is writable after all; otherwise
 * side_kapi_sfi_slow_path reports the fault and never returns. It runs on the layer's stack and goes back to the
 * shadow slot's address: the registers it saves and where it returns to are kept where no driver code can change
 * them between the check and the write. With the direction flag set a string store runs downwards: the length
 * becomes impossible, a fault.
 */
SYM_FUNC_START(side_kapi_sfi_violation)
	movq %rsp, CROSSING(VIOLATION_SP)
	movq CROSSING(LAYER_SP), %rsp
	pushfq
	pushq CROSSING(VIOLATION_SP)
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	movq 56(%rsp), %rdx
	movq %rdx, %rax
	SIDE_SFI_OWN_STACK %rax, 2f
	movq SIDE_SFI_SHADOW_OFFSET(%rdx), %rdx
	movq %r11, %rdi
	movq %r10, %rsi
	testq $X86_EFLAGS_DF, 64(%rsp)
	jz 1f
	movq $-1, %rsi
1:	pushq %rdx
	call side_kapi_sfi_slow_path
	popq %r11
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	popq %r10
	popfq
	leaq 8(%r10), %rsp
	ANNOTATE_RETPOLINE_SAFE
	jmp *%r11
2:	movq %rdx, %rsi
	call side_kapi_sfi_bad_stack
	ud2
SYM_FUNC_END(side_kapi_sfi_violation)
