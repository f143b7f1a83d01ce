// SPDX-License-Identifier: GPL-2.0-only
/*
 * RCU. Debian's kernel is built with CONFIG_PREEMPT_RCU, so rcu_read_lock() is an out-of-line nesting count in the
 * current task (__rcu_read_lock), and, as in every flavour since the consolidation of RCU, a region with preemption,
 * bottom halves or interrupts disabled is a read-side critical section too.
 *
 * A domain's tasks are its virtual CPUs (one task each, never migrated), so a grace period is over once every other
 * virtual CPU has been seen outside any read-side critical section since it began: either sampled there (no nesting,
 * a preempt count of zero, the virtual interrupt flag set: an idle vCPU waiting for work in the host is like this), or
 * having reported a quiescent state, which the layer's host entry points do each time they return to the host
 * (side_rcu_quiescent_state(): a tick, a softirq run, a work item). A reader that never ends is the RCU stall the
 * kernel would warn about; here it would block the caller forever, so after SIDE_RCU_STALL_NS it is a driver fault.
 */
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>

#include "kapi.h"

#define SIDE_RCU_STALL_NS (10ULL * NSEC_PER_SEC)
#define SIDE_RCU_SPINS_BEFORE_YIELD 64

DECLARE_PER_CPU(struct task_struct *, current_task);
static DEFINE_PER_CPU(unsigned long, side_rcu_qs);

void __rcu_read_lock(void)
{
	current->rcu_read_lock_nesting++;
	barrier(); /* the critical section stays after the count, as in the kernel */
}

void __rcu_read_unlock(void)
{
	struct task_struct *t = current;

	barrier();
	if (unlikely(t->rcu_read_lock_nesting <= 0))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "rcu_read_unlock() without rcu_read_lock()");
	t->rcu_read_lock_nesting--;
}

static bool side_rcu_self_reading(void)
{
	return current->rcu_read_lock_nesting > 0 || (preempt_count() & ~PREEMPT_NEED_RESCHED) || irqs_disabled();
}

/* Called by the layer where it returns to the host: a quiescent state unless the CPU is still in a reader. */
void side_rcu_quiescent_state(void)
{
	if (!side_rcu_self_reading())
		this_cpu_inc(side_rcu_qs);
}

/* Whether `cpu` is in a read-side critical section of any kind, as far as another CPU can see it. */
static bool side_rcu_cpu_reading(int cpu)
{
	struct task_struct *t = READ_ONCE(per_cpu(current_task, cpu));
	int count = READ_ONCE(per_cpu(__preempt_count, cpu)) & ~PREEMPT_NEED_RESCHED;

	if (!t)
		return false; /* not started yet: it runs no driver code */
	return READ_ONCE(t->rcu_read_lock_nesting) > 0 || count ||
	       !(READ_ONCE(per_cpu(side_virq_flags, cpu)) & X86_EFLAGS_IF);
}

/* Waits until `cpu` has been outside a reader since now (the grace period began before). */
static void side_rcu_wait_cpu(int cpu, unsigned long caller)
{
	unsigned long qs = READ_ONCE(per_cpu(side_rcu_qs, cpu)), spins = 0;
	u64 start = 0;

	for (;;) {
		smp_mb(); /* the caller's updates before the sample, the reader's accesses before its exit */
		if (!side_rcu_cpu_reading(cpu) || READ_ONCE(per_cpu(side_rcu_qs, cpu)) != qs)
			return;
		if (++spins < SIDE_RCU_SPINS_BEFORE_YIELD) {
			cpu_relax();
			continue;
		}
		if (!start)
			start = side_host_real_clock_ns();
		else if (side_host_real_clock_ns() - start > SIDE_RCU_STALL_NS)
			side_fault(SIDE_FAULT_DEADLOCK, caller, "synchronize_rcu: CPU#%d stalled the grace period for %llu s",
				   cpu, SIDE_RCU_STALL_NS / NSEC_PER_SEC);
		side_host_yield();
	}
}

static void side_synchronize(unsigned long caller)
{
	int cpu, self = raw_smp_processor_id();

	/* A grace period cannot end while its own waiter reads: the kernel's lockdep splat, here a sure deadlock. */
	if (side_rcu_self_reading())
		side_fault(SIDE_FAULT_DEADLOCK, caller, "synchronize_rcu() in an RCU read-side critical section");
	smp_mb();
	for_each_online_cpu(cpu)
		if (cpu != self)
			side_rcu_wait_cpu(cpu, caller);
	smp_mb();
}

void synchronize_rcu(void)
{
	side_synchronize(SIDE_CALLER);
}

void synchronize_rcu_expedited(void)
{
	side_synchronize(SIDE_CALLER);
}
