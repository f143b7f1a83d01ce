/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * --isolation sfi: the checked variants of the compiler's thunks (thunks.S). The host resolves a driver's
 * imports of __fentry__, __x86_return_thunk and __x86_indirect_thunk_REG to these in sfi mode only, so the
 * other modes, and the layer itself, keep the plain one-instruction thunks.
 *
 *   indirect calls and jumps  the target must be a function entry (a bit in the CFI bitmap: the FUNC symbols of
 *                             the loaded modules and the layer's functions);
 *   __fentry__                copies the caller's return address, [rsp+8] at the call, to its shadow slot
 *                             SIDE_SFI_SHADOW_OFFSET above (which the driver cannot write);
 *   __x86_return_thunk        returns only to the address in the shadow slot.
 * Both shadow-stack thunks first check that the slot lies in the stack half of a driver stack, so that code that
 * moved its stack elsewhere (into a shadow, say) cannot choose the shadow it compares against.
 *
 * Every register the checks use is saved and restored: the registers a call passes or returns stay intact. The
 * flags are not preserved: at a call, a function entry or a return they hold nothing the ABI keeps.
 * side_kapi_sfi_violation is the write checks' slow path (the translator's ABI, src/sfi/check_abi.h).
 */
#include <linux/linkage.h>
#include "sfi_abi.h"

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
	jmp side_kapi_sfi_bad_branch
SYM_FUNC_END(side_kapi_sfi___x86_indirect_thunk_\reg)
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
	jmp side_kapi_sfi_bad_stack
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
	jmp side_kapi_sfi_bad_stack
2:	popq %r11
	movq (%rsp), %rsi
	movq SIDE_SFI_SHADOW_OFFSET(%rsp), %rdx
	jmp side_kapi_sfi_bad_return
SYM_FUNC_END(side_kapi_sfi___x86_return_thunk)

/*
 * The write checks' slow path (check_abi.h): called with r11 = the address written, r10 = the length, [rsp] = the
 * return address into the translated code. Returns, with every register and the flags intact, when the whole
 * range is writable after all; otherwise side_kapi_sfi_slow_path reports the fault and never returns. Kernel code
 * keeps 8-byte stack alignment only, which is all the layer's C needs.
 */
SYM_FUNC_START(side_kapi_sfi_violation)
	pushfq
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	movq %r11, %rdi
	movq %r10, %rsi
	movq 80(%rsp), %rdx
	call side_kapi_sfi_slow_path
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	popfq
	ret
SYM_FUNC_END(side_kapi_sfi_violation)
