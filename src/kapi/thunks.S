/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Code the compiler and the kernel's inline assembly call by name: the function-entry hook, the return and
 * indirect-branch thunks (kbuild builds with -mfunction-return=thunk-extern and -mindirect-branch=thunk-extern),
 * static-call trampolines, and the paravirt operations behind local_irq_save()/restore() and spin_unlock().
 *
 * In a driver domain these run at user privilege, where there is nothing to mitigate with retpolines and nothing
 * to patch: each thunk is the plain instruction it stands for. The indirect thunks are the layer's own too, and the
 * layer calls the driver's function pointers (its ops tables, timers, work items: memory the driver may write)
 * through them: in sfi mode (side_kapi_sfi.enabled, sfi_abi.h) they take the checked path, so a driver that points
 * an ops table at side's code is stopped when the layer would call it, and a call into driver code switches to
 * the driver's stack (sfi_thunks.S: enter_driver). Otherwise one compare more.
 */
#include <linux/linkage.h>
#include <asm/percpu.h>
#include <asm/processor-flags.h>
#include <asm/nospec-branch.h>

	.text

/* -mfentry: every function starts with `call __fentry__`; tracing is not offered. */
SYM_FUNC_START(__fentry__)
	ret
	int3
SYM_FUNC_END(__fentry__)

SYM_FUNC_START(__x86_return_thunk)
	ret
	int3
SYM_FUNC_END(__x86_return_thunk)

.macro SIDE_INDIRECT_THUNK reg
SYM_FUNC_START(__x86_indirect_thunk_\reg)
	cmpq $0, side_kapi_sfi(%rip)
	jne side_kapi_sfi_layer_thunk_\reg
	ANNOTATE_RETPOLINE_SAFE
	jmp *%\reg
	int3
SYM_FUNC_END(__x86_indirect_thunk_\reg)
.endm

	SIDE_INDIRECT_THUNK rax
	SIDE_INDIRECT_THUNK rbx
	SIDE_INDIRECT_THUNK rcx
	SIDE_INDIRECT_THUNK rdx
	SIDE_INDIRECT_THUNK rsi
	SIDE_INDIRECT_THUNK rdi
	SIDE_INDIRECT_THUNK rbp
	SIDE_INDIRECT_THUNK r8
	SIDE_INDIRECT_THUNK r9
	SIDE_INDIRECT_THUNK r10
	SIDE_INDIRECT_THUNK r11
	SIDE_INDIRECT_THUNK r12
	SIDE_INDIRECT_THUNK r13
	SIDE_INDIRECT_THUNK r14
	SIDE_INDIRECT_THUNK r15

/*
 * Static-call trampolines. preempt_enable() calls __SCT__preempt_schedule when the preempt count reaches zero with
 * a reschedule pending, and must find every register intact. A virtual CPU is its own host thread, scheduled by
 * the host, so there is never anything to do here. cond_resched() returns whether it rescheduled: it did not.
 */
SYM_FUNC_START(__SCT__preempt_schedule)
	RET
SYM_FUNC_END(__SCT__preempt_schedule)

SYM_FUNC_START(__SCT__preempt_schedule_notrace)
	RET
SYM_FUNC_END(__SCT__preempt_schedule_notrace)

SYM_FUNC_START(__SCT__cond_resched)
	xorl %eax, %eax
	RET
SYM_FUNC_END(__SCT__cond_resched)

SYM_FUNC_START(__SCT__might_resched)
	xorl %eax, %eax
	RET
SYM_FUNC_END(__SCT__might_resched)

/* pv_ops.irq.save_fl: the virtual flags of this CPU, only X86_EFLAGS_IF meaningful. */
SYM_FUNC_START(side_pv_save_fl)
	movq PER_CPU_VAR(side_virq_flags), %rax
	RET
SYM_FUNC_END(side_pv_save_fl)

SYM_FUNC_START(side_pv_irq_disable)
	movq $0, PER_CPU_VAR(side_virq_flags)
	RET
SYM_FUNC_END(side_pv_irq_disable)

SYM_FUNC_START(side_pv_irq_enable)
	movq $X86_EFLAGS_IF, PER_CPU_VAR(side_virq_flags)
	RET
SYM_FUNC_END(side_pv_irq_enable)

/* pv_ops.lock.queued_spin_unlock: the whole lock word, because side keeps the owner CPU in its upper half. */
SYM_FUNC_START(side_pv_queued_spin_unlock)
	movl $0, (%rdi)
	RET
SYM_FUNC_END(side_pv_queued_spin_unlock)

/* Port 0x80 delays of old drivers: nothing to wait for. */
SYM_FUNC_START(side_pv_io_delay)
	RET
SYM_FUNC_END(side_pv_io_delay)

/* Any other paravirt operation: a driver fault naming the caller. Registers need not survive. */
SYM_FUNC_START(side_pv_unimplemented)
	movq (%rsp), %rdi
	jmp side_pv_unimplemented_fault
SYM_FUNC_END(side_pv_unimplemented)
