// SPDX-License-Identifier: GPL-2.0-only
/*
 * Completions (kernel/sched/completion.c): `done` counts complete() calls not yet consumed by a waiter;
 * complete_all() makes it UINT_MAX, after which every wait returns at once. A waiter consumes one under the
 * queue's lock. The swait queue only supplies that lock: waiters poll (sleep_wait.c) instead of queueing.
 */
#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/sched.h>
#include <linux/swait.h>

#include "kapi.h"

void __init_swait_queue_head(struct swait_queue_head *q, const char *name, struct lock_class_key *key)
{
	raw_spin_lock_init(&q->lock);
	INIT_LIST_HEAD(&q->task_list);
}

void complete(struct completion *x)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&x->wait.lock, flags);
	if (x->done != UINT_MAX)
		x->done++;
	raw_spin_unlock_irqrestore(&x->wait.lock, flags);
}

void complete_all(struct completion *x)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&x->wait.lock, flags);
	x->done = UINT_MAX;
	raw_spin_unlock_irqrestore(&x->wait.lock, flags);
}

/* try_wait_for_completion(): consumes one completion if there is one. */
static bool side_completion_take(void *arg)
{
	struct completion *x = arg;
	unsigned long flags;
	bool taken = false;

	raw_spin_lock_irqsave(&x->wait.lock, flags);
	if (x->done) {
		if (x->done != UINT_MAX)
			x->done--;
		taken = true;
	}
	raw_spin_unlock_irqrestore(&x->wait.lock, flags);
	return taken;
}

/* Returns 0 on timeout, else the jiffies left (at least 1). MAX_SCHEDULE_TIMEOUT waits at most the hang bound. */
static unsigned long side_wait_for_completion(struct completion *x, unsigned long timeout, unsigned long caller)
{
	u64 start = side_host_real_clock_ns(), waited;
	bool forever = timeout == MAX_SCHEDULE_TIMEOUT;
	u64 ns = forever ? SIDE_SLEEP_HANG_NS : jiffies64_to_nsecs(timeout);

	side_check_might_sleep("wait_for_completion", caller);
	if (!side_wait_cond_ns(side_completion_take, x, ns)) {
		if (forever)
			side_fault(SIDE_FAULT_HUNG, caller, "completion %px not completed in %llu s", x,
				   SIDE_SLEEP_HANG_NS / NSEC_PER_SEC);
		return 0;
	}
	waited = div_u64(side_host_real_clock_ns() - start, NSEC_PER_SEC / HZ);
	return forever ? timeout : max_t(unsigned long, timeout - min_t(u64, waited, timeout), 1);
}

unsigned long wait_for_completion_io_timeout(struct completion *x, unsigned long timeout)
{
	return side_wait_for_completion(x, timeout, SIDE_CALLER);
}

unsigned long wait_for_completion_timeout(struct completion *x, unsigned long timeout)
{
	return side_wait_for_completion(x, timeout, SIDE_CALLER);
}

void wait_for_completion(struct completion *x)
{
	side_wait_for_completion(x, MAX_SCHEDULE_TIMEOUT, SIDE_CALLER);
}

void wait_for_completion_io(struct completion *x)
{
	side_wait_for_completion(x, MAX_SCHEDULE_TIMEOUT, SIDE_CALLER);
}
