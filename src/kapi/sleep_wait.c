// SPDX-License-Identifier: GPL-2.0-only
/*
 * The one way a kernel function of the layer sleeps until something another virtual CPU does (a completion, a
 * wake-up, a reader leaving): no scheduler runs in a domain, so a sleeping task polls its condition, backing off
 * from a yield up to 1 ms between looks, in real time. Every such wait is bounded by its caller.
 */
#include <linux/kernel.h>
#include <linux/preempt.h>
#include <linux/printk.h>
#include <linux/time64.h>

#include "kapi.h"

bool side_wait_cond_ns(bool (*cond)(void *), void *arg, u64 timeout_ns)
{
	u64 start = 0, backoff = 1000;

	while (!cond(arg)) {
		u64 now = side_host_real_clock_ns();

		if (!start)
			start = now;
		else if (now - start >= timeout_ns)
			return cond(arg);
		side_host_real_sleep_ns(backoff);
		if (backoff < NSEC_PER_MSEC)
			backoff *= 2;
	}
	return true;
}

void side_check_might_sleep(const char *what, unsigned long caller)
{
	if (preempt_count() != 0 || irqs_disabled())
		pr_err("BUG: sleeping function called from invalid context: %s from %pS (preempt_count %#x, irqs %s)\n",
		       what, (void *)caller, preempt_count(), irqs_disabled() ? "disabled" : "enabled");
}
