// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sleepable RCU (kernel/rcu/srcutree.c, its classic counting algorithm): a reader counts itself in the current
 * index's per-CPU lock counter and, when done, in the same index's unlock counter; synchronize_srcu() waits until
 * the other index's readers are gone, flips the index, and waits until the old index's readers are gone too, so
 * every reader that started before it has finished. Grace periods are serialized by srcu_gp_mutex; no callbacks
 * (call_srcu) are taken. A reader that never leaves is a detected hang.
 */
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/srcu.h>

#include "kapi.h"

int __init_srcu_struct(struct srcu_struct *ssp, const char *name, struct lock_class_key *key)
{
	memset(ssp, 0, sizeof(*ssp));
	mutex_init(&ssp->srcu_gp_mutex);
	ssp->sda = alloc_percpu(struct srcu_data);
	return ssp->sda ? 0 : -ENOMEM;
}

int init_srcu_struct(struct srcu_struct *ssp)
{
	return __init_srcu_struct(ssp, NULL, NULL);
}

void cleanup_srcu_struct(struct srcu_struct *ssp)
{
	int cpu;

	if (!ssp->sda)
		return;
	for_each_possible_cpu(cpu) {
		struct srcu_data *sdp = per_cpu_ptr(ssp->sda, cpu);

		if (sdp->srcu_lock_count[0] != sdp->srcu_unlock_count[0] ||
		    sdp->srcu_lock_count[1] != sdp->srcu_unlock_count[1])
			side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER,
				   "cleanup_srcu_struct of srcu_struct %px with readers in it", ssp);
	}
	free_percpu(ssp->sda);
	ssp->sda = NULL;
}

int __srcu_read_lock(struct srcu_struct *ssp)
{
	int idx = READ_ONCE(ssp->srcu_idx) & 0x1;

	this_cpu_inc(ssp->sda->srcu_lock_count[idx]);
	smp_mb(); /* the lock is counted before the critical section's accesses */
	return idx;
}

void __srcu_read_unlock(struct srcu_struct *ssp, int idx)
{
	smp_mb(); /* the critical section's accesses come before the unlock is counted */
	this_cpu_inc(ssp->sda->srcu_unlock_count[idx & 0x1]);
}

struct side_srcu_check {
	struct srcu_struct *ssp;
	int idx;
};

/* srcu_readers_active_idx_check(): unlocks are summed first, so a reader that moves CPUs is never missed. */
static bool side_srcu_idx_idle(void *arg)
{
	struct side_srcu_check *c = arg;
	unsigned long locks = 0, unlocks = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		unlocks += READ_ONCE(per_cpu_ptr(c->ssp->sda, cpu)->srcu_unlock_count[c->idx]);
	smp_mb();
	for_each_possible_cpu(cpu)
		locks += READ_ONCE(per_cpu_ptr(c->ssp->sda, cpu)->srcu_lock_count[c->idx]);
	return locks == unlocks;
}

static void side_srcu_wait_idx(struct srcu_struct *ssp, int idx, unsigned long caller)
{
	struct side_srcu_check c = { ssp, idx };

	if (!side_wait_cond_ns(side_srcu_idx_idle, &c, SIDE_SLEEP_HANG_NS))
		side_fault(SIDE_FAULT_HUNG, caller, "synchronize_srcu: a reader of srcu_struct %px stayed %llu s", ssp,
			   SIDE_SLEEP_HANG_NS / NSEC_PER_SEC);
}

void synchronize_srcu(struct srcu_struct *ssp)
{
	int idx;

	side_check_might_sleep("synchronize_srcu", SIDE_CALLER);
	mutex_lock(&ssp->srcu_gp_mutex);
	idx = READ_ONCE(ssp->srcu_idx) & 0x1;
	side_srcu_wait_idx(ssp, idx ^ 0x1, SIDE_CALLER);
	smp_mb();
	WRITE_ONCE(ssp->srcu_idx, ssp->srcu_idx + 1);
	smp_mb();
	side_srcu_wait_idx(ssp, idx, SIDE_CALLER);
	ssp->srcu_gp_seq++;
	mutex_unlock(&ssp->srcu_gp_mutex);
}
