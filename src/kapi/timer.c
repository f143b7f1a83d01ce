// SPDX-License-Identifier: GPL-2.0-only
/*
 * Timers (kernel/time/timer.c semantics). Pending timers sit on one list; side_kapi_tick() on virtual CPU 1 moves
 * the ones whose expiry jiffies has reached to an "expired" list and runs them one by one in softirq context, as
 * the timer softirq does. A timer is pending (timer_pending(): entry linked) while on either list, so deleting or
 * re-arming it before its turn works; a callback re-arming its own timer for "now" runs at the next tick, never in
 * a loop. Timers fire on or after their expiry jiffy, never before.
 *
 * Only vCPU 1 runs callbacks, so "the running timer" is a single pointer that del_timer_sync() waits on.
 */
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/timer.h>

#include "kapi.h"

#define SIDE_TIMER_WAIT_NS (10ULL * NSEC_PER_SEC)

static DEFINE_SPINLOCK(side_timer_lock);
static HLIST_HEAD(side_timers);
static HLIST_HEAD(side_expired);
static struct timer_list *side_running_timer;

void init_timer_key(struct timer_list *timer, void (*func)(struct timer_list *), unsigned int flags,
		    const char *name, struct lock_class_key *key)
{
	timer->entry.pprev = NULL;
	timer->entry.next = NULL;
	timer->function = func;
	timer->flags = (flags & TIMER_INIT_FLAGS) | raw_smp_processor_id();
}

static void side_detach(struct timer_list *timer)
{
	__hlist_del(&timer->entry);
	timer->entry.pprev = NULL;
	timer->entry.next = LIST_POISON2;
}

enum side_mod { SIDE_MOD_ANY, SIDE_MOD_PENDING_ONLY, SIDE_MOD_REDUCE, SIDE_MOD_NOTPENDING };

static int side_mod_timer(struct timer_list *timer, unsigned long expires, enum side_mod how, unsigned long caller)
{
	unsigned long flags;
	int was_pending;

	spin_lock_irqsave(&side_timer_lock, flags);
	was_pending = timer_pending(timer);
	if (how == SIDE_MOD_NOTPENDING && was_pending) {
		spin_unlock_irqrestore(&side_timer_lock, flags);
		side_fault(SIDE_FAULT_BUG, caller, "add_timer of a pending timer %px (%ps)", timer, timer->function);
	}
	/* A shut-down timer (function NULL) is never re-armed; the request is dropped silently, as the kernel does. */
	if (!timer->function || (how == SIDE_MOD_PENDING_ONLY && !was_pending)) {
		spin_unlock_irqrestore(&side_timer_lock, flags);
		return 0;
	}
	if (was_pending) {
		if (how == SIDE_MOD_REDUCE && !time_before(expires, timer->expires)) {
			spin_unlock_irqrestore(&side_timer_lock, flags);
			return 1;
		}
		side_detach(timer);
	}
	timer->expires = expires;
	hlist_add_head(&timer->entry, &side_timers);
	spin_unlock_irqrestore(&side_timer_lock, flags);
	return was_pending;
}

int mod_timer(struct timer_list *timer, unsigned long expires)
{
	return side_mod_timer(timer, expires, SIDE_MOD_ANY, SIDE_CALLER);
}

int mod_timer_pending(struct timer_list *timer, unsigned long expires)
{
	return side_mod_timer(timer, expires, SIDE_MOD_PENDING_ONLY, SIDE_CALLER);
}

int timer_reduce(struct timer_list *timer, unsigned long expires)
{
	return side_mod_timer(timer, expires, SIDE_MOD_REDUCE, SIDE_CALLER);
}

void add_timer(struct timer_list *timer)
{
	side_mod_timer(timer, timer->expires, SIDE_MOD_NOTPENDING, SIDE_CALLER);
}

void add_timer_on(struct timer_list *timer, int cpu)
{
	side_mod_timer(timer, timer->expires, SIDE_MOD_NOTPENDING, SIDE_CALLER);
}

static int side_timer_delete(struct timer_list *timer, bool shutdown)
{
	unsigned long flags;
	int was_pending;

	spin_lock_irqsave(&side_timer_lock, flags);
	was_pending = timer_pending(timer);
	if (was_pending)
		side_detach(timer);
	if (shutdown)
		timer->function = NULL;
	spin_unlock_irqrestore(&side_timer_lock, flags);
	return was_pending;
}

int timer_delete(struct timer_list *timer)
{
	return side_timer_delete(timer, false);
}

int timer_shutdown(struct timer_list *timer)
{
	return side_timer_delete(timer, true);
}

/* -1 while the callback runs (the timer is left alone then), else whether it was pending. */
static int side_try_delete_sync(struct timer_list *timer, bool shutdown)
{
	unsigned long flags;
	int ret = -1;

	spin_lock_irqsave(&side_timer_lock, flags);
	if (side_running_timer != timer) {
		ret = timer_pending(timer);
		if (ret)
			side_detach(timer);
	}
	if (shutdown)
		timer->function = NULL;
	spin_unlock_irqrestore(&side_timer_lock, flags);
	return ret;
}

int try_to_del_timer_sync(struct timer_list *timer)
{
	return side_try_delete_sync(timer, false);
}

static int side_delete_sync(struct timer_list *timer, bool shutdown, unsigned long caller)
{
	u64 start = 0;
	int ret;

	while ((ret = side_try_delete_sync(timer, shutdown)) < 0) {
		/* Only vCPU 1 runs callbacks: there, a running timer is the caller's own callback. */
		if (in_serving_softirq() && READ_ONCE(side_running_timer) == timer &&
		    raw_smp_processor_id() == 1)
			side_fault(SIDE_FAULT_DEADLOCK, caller, "del_timer_sync of timer %px (%ps) from its own callback",
				   timer, timer->function);
		if (!start)
			start = side_host_real_clock_ns();
		else if (side_host_real_clock_ns() - start > SIDE_TIMER_WAIT_NS)
			side_fault(SIDE_FAULT_HUNG, caller, "timer callback %ps still running after %llu s",
				   timer->function, SIDE_TIMER_WAIT_NS / NSEC_PER_SEC);
		side_host_yield();
	}
	return ret;
}

int timer_delete_sync(struct timer_list *timer)
{
	return side_delete_sync(timer, false, SIDE_CALLER);
}

int timer_shutdown_sync(struct timer_list *timer)
{
	return side_delete_sync(timer, true, SIDE_CALLER);
}

/* Runs due timers; the caller is in softirq context on vCPU 1. */
void side_run_timers(void)
{
	unsigned long now = jiffies;
	struct timer_list *timer;
	struct hlist_node *tmp;

	spin_lock_irq(&side_timer_lock);
	hlist_for_each_entry_safe(timer, tmp, &side_timers, entry) {
		if (time_after_eq(now, timer->expires)) {
			__hlist_del(&timer->entry);
			hlist_add_head(&timer->entry, &side_expired);
		}
	}
	while (!hlist_empty(&side_expired)) {
		void (*fn)(struct timer_list *);
		int count;

		timer = hlist_entry(side_expired.first, struct timer_list, entry);
		side_detach(timer);
		fn = timer->function;
		side_running_timer = timer;
		/* Callbacks run with interrupts enabled, except TIMER_IRQSAFE ones (delayed work). */
		spin_unlock(&side_timer_lock);
		if (!(timer->flags & TIMER_IRQSAFE))
			local_irq_enable();
		count = preempt_count();
		fn(timer);
		if (preempt_count() != count) {
			pr_err("timer: %ps preempt leak: %08x -> %08x\n", fn, count, preempt_count());
			preempt_count_set(count);
		}
		spin_lock_irq(&side_timer_lock);
		side_running_timer = NULL;
	}
	spin_unlock_irq(&side_timer_lock);
}

/* TIMER_SOFTIRQ: replays interrupts that enable_irq() found pending, then due timers. */
static void side_timer_softirq(struct softirq_action *h)
{
	side_irq_resend();
	side_run_timers();
}

void side_raise_timer_softirq(void)
{
	open_softirq(TIMER_SOFTIRQ, side_timer_softirq);
	raise_softirq(TIMER_SOFTIRQ);
}
