/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * --isolation sfi: the checked variants of the compiler's thunks (thunks.S), and the crossings between driver code
 * and the layer. The host resolves a driver's imports of __fentry__, __x86_return_thunk and
 * __x86_indirect_thunk_REG to the checked variants in sfi mode only, so the other modes keep the plain
 * one-instruction thunks.
 *
 *   indirect calls and jumps  the target must be a function entry (a bit in the CFI bitmap: the FUNC symbols of
 *                             the loaded modules and the layer's functions);
 *   __fentry__                copies the caller's return address, [rsp+8] at the call, to its shadow slot
 *                             SIDE_SFI_SHADOW_OFFSET above (which the driver cannot write);
 *   __x86_return_thunk        returns only to the address in the shadow slot.
 * Both shadow-stack thunks first check that the slot lies in the stack half of a driver stack, so that code that
 * moved its stack elsewhere (into a shadow, say) cannot choose the shadow it compares against.
 *
 * Stacks (sfi_abi.h, side_kapi_sfi_crossing): driver code runs on its vCPU's driver stack, which every vCPU's
 * driver code may write; the layer and side run on the vCPU thread's own stack, outside the window, which no
 * driver code can write. So no return address, saved register or local of the layer's or side's frames is ever
 * where a driver (on this vCPU or another) could change it. The crossings:
 *   layer -> driver  the layer's indirect thunks (thunks.S), for a target outside the layer: enter_driver;
 *   driver -> layer  each of the driver's imports of a layer function is bound to a 16-byte stub (the host's
 *                    domain/sfi_stubs.cc) that loads the function into r11 and jumps to enter_layer;
 *   side -> driver   only through the layer (side_kapi_call_init/exit), so through enter_driver.
 * Each copies SIDE_SFI_STACK_ARGS words of stack-passed arguments and keeps everything it needs to come back
 * (the target, the return address, the other stack's pointer) on the layer's stack, never rereading the driver
 * stack for it.
 *
 * Every register the checks use is saved and restored: the registers a call passes or returns stay intact. The
 * flags are not preserved: at a call, a function entry or a return they hold nothing the ABI keeps. r10 and r11
 * are free at a call (neither passes an argument), which the crossings use.
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

.macro SIDE_SFI_INDIRECT_THUNK reg
SYM_FUNC_START(side_kapi_sfi___x86_indirect_thunk_\reg)
	pushq %r11
	pushq %rax
	movq %\reg, %r11
	subq side_kapi_sfi+SIDE_SFI_CFI_BASE(%rip), %r11
	cmpq side_kapi_sfi+SIDE_SFI_CFI_LEN(%rip), %r11
	jae 1f
	movq side_kapi_sfi+SIDE_SFI_CFI_BITS(%rip), %rax
	btq %r11, (%rax)
	jnc 1f
	popq %rax
	popq %r11
	jmp *%\reg
1:	popq %rax
	popq %r11
	movq %\reg, %rsi
	movq (%rsp), %rdx
	SIDE_SFI_REPORT side_kapi_sfi_bad_branch
SYM_FUNC_END(side_kapi_sfi___x86_indirect_thunk_\reg)

/*
 * The layer's indirect calls in sfi mode (thunks.S): a target in the layer stays on the current stack, as does a
 * call made while already on a driver stack; any other target is driver code, entered on the driver stack.
 */
SYM_FUNC_START(side_kapi_sfi_layer_thunk_\reg)
	pushq %r11
	movq %\reg, %r11
	subq SFI(LAYER_BASE), %r11
	cmpq SFI(LAYER_LEN), %r11
	jb 1f
	leaq 8(%rsp), %r11
	subq SFI(STACK_BASE), %r11
	cmpq SFI(STACK_LEN), %r11
	jb 1f
	popq %r11
	movq %\reg, %r11
	jmp side_kapi_sfi_enter_driver
1:	popq %r11
	jmp side_kapi_sfi___x86_indirect_thunk_\reg
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

/* r11 = the address of a return-address slot: is it in the stack half of a driver stack? Jumps to \bad if not. */
.macro SIDE_SFI_CHECK_SLOT bad
	subq side_kapi_sfi+SIDE_SFI_STACK_BASE(%rip), %r11
	cmpq side_kapi_sfi+SIDE_SFI_STACK_LEN(%rip), %r11
	jae \bad
	testq $SIDE_SFI_SHADOW_OFFSET, %r11
	jnz \bad
.endm

/* At entry: [rsp] returns into the function, [rsp+8] is the function's own return address. */
SYM_FUNC_START(side_kapi_sfi___fentry__)
	pushq %r11
	leaq 16(%rsp), %r11
	SIDE_SFI_CHECK_SLOT 1f
	movq 16(%rsp), %r11
	movq %r11, 16+SIDE_SFI_SHADOW_OFFSET(%rsp)
	popq %r11
	ret
1:	popq %r11
	leaq 8(%rsp), %rsi
	movq 8(%rsp), %rdx
	SIDE_SFI_REPORT side_kapi_sfi_bad_stack
SYM_FUNC_END(side_kapi_sfi___fentry__)

/* Reached by `jmp`: [rsp] is the return address to check. */
SYM_FUNC_START(side_kapi_sfi___x86_return_thunk)
	pushq %r11
	leaq 8(%rsp), %r11
	SIDE_SFI_CHECK_SLOT 1f
	movq 8(%rsp), %r11
	cmpq %r11, 8+SIDE_SFI_SHADOW_OFFSET(%rsp)
	jne 2f
	popq %r11
	ret
1:	popq %r11
	movq %rsp, %rsi
	movq (%rsp), %rdx
	SIDE_SFI_REPORT side_kapi_sfi_bad_stack
2:	popq %r11
	movq (%rsp), %rsi
	movq SIDE_SFI_SHADOW_OFFSET(%rsp), %rdx
	SIDE_SFI_REPORT side_kapi_sfi_bad_return
SYM_FUNC_END(side_kapi_sfi___x86_return_thunk)

/*
 * layer -> driver. r11 = the target, [rsp] = the return address into the layer, on the layer's stack. The target
 * must be a function entry; the driver's code then runs below the driver stack pointer of this vCPU's crossing
 * state, with the stack-passed arguments copied there; when it returns, the layer's stack pointer is taken from the
 * crossing state (whatever rsp the driver left), so nothing the driver stack holds decides where the layer goes on.
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
 * driver -> layer, from an import stub: r11 = the layer function, [rsp] = the return address into the driver, on
 * the driver stack. The layer function runs below the layer stack pointer of the crossing state; the return
 * address and the driver's stack pointer are read once, kept on the layer's stack, and used from there.
 */
SYM_FUNC_START(side_kapi_sfi_enter_layer)
	movq %rsp, %r10
	movq CROSSING(LAYER_SP), %rsp
	pushq %r11
	movq %r10, %r11
	SIDE_SFI_CHECK_SLOT 9f
	pushq (%r10)
	pushq %r10
	pushq CROSSING(DRIVER_SP)
	movq %r10, CROSSING(DRIVER_SP)
	.irp i, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0
	pushq 8+8*\i(%r10)
	.endr
	ANNOTATE_RETPOLINE_SAFE
	call *8*SIDE_SFI_STACK_ARGS+24(%rsp)
	/* The return address of every layer function a driver calls: kapi.h's SIDE_CALLER looks past it. */
	.globl side_kapi_sfi_enter_layer_ret
side_kapi_sfi_enter_layer_ret:
	leaq 8*SIDE_SFI_STACK_ARGS(%rsp), %rsp
	popq CROSSING(DRIVER_SP)
	popq %r10
	popq %r11
	leaq 8(%r10), %rsp
	ANNOTATE_RETPOLINE_SAFE
	jmp *%r11
9:	movq %r10, %rsi
	movq %r10, %rdx
	call side_kapi_sfi_bad_stack
	ud2
SYM_FUNC_END(side_kapi_sfi_enter_layer)

/*
 * The write checks' slow path (check_abi.h): called with r11 = the address written, r10 = the length, [rsp] = the
 * return address into the translated code. Returns, with every register but r10 and r11 and the flags intact, when
 * the whole range is writable after all; otherwise side_kapi_sfi_slow_path reports the fault and never returns.
 * It runs on the layer's stack: the registers it saves and the return address it goes back to are kept where
 * no driver code can change them between the check and the write (the driver stack is shared by every vCPU's
 * driver code). With the direction flag set a string store runs downwards: the length becomes impossible, a fault.
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
	movq %r11, %rdi
	movq %r10, %rsi
	testq $X86_EFLAGS_DF, 64(%rsp)
	jz 1f
	movq $-1, %rsi
1:	movq 56(%rsp), %rdx
	movq (%rdx), %rdx
	pushq %rdx
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
SYM_FUNC_END(side_kapi_sfi_violation)
