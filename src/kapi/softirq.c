// SPDX-License-Identifier: GPL-2.0-only
/*
 * Softirqs. A domain runs every softirq on virtual CPU 1 (see side_host.h): raising one from any context marks it
 * pending and wakes that CPU, whose host loop calls side_kapi_softirq(), and side_kapi_irq() runs them on the way
 * out of a hard interrupt, as irq_exit() does. The kernel's own __do_softirq() bounds its restarts; so do we, so a
 * driver that keeps rescheduling itself cannot monopolise the CPU (the host calls again while work remains).
 */
#include <linux/bitops.h>
#include <linux/interrupt.h>
#include <linux/preempt.h>

#include "kapi.h"

/* As __do_softirq()'s MAX_SOFTIRQ_RESTART. */
#define SIDE_SOFTIRQ_RESTARTS 10

static struct softirq_action side_softirq_vec[NR_SOFTIRQS];
static unsigned long side_softirq_pending;

void open_softirq(int nr, void (*action)(struct softirq_action *))
{
	if (nr < 0 || nr >= NR_SOFTIRQS)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "open_softirq(%d): no such softirq", nr);
	WRITE_ONCE(side_softirq_vec[nr].action, action);
}

void __raise_softirq_irqoff(unsigned int nr)
{
	if (nr >= NR_SOFTIRQS)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "raise_softirq(%u): no such softirq", nr);
	set_bit(nr, &side_softirq_pending);
	side_host_kick_softirq();
}

void raise_softirq_irqoff(unsigned int nr)
{
	__raise_softirq_irqoff(nr);
}

void raise_softirq(unsigned int nr)
{
	__raise_softirq_irqoff(nr);
}

int side_kapi_softirq(void)
{
	int restart;

	for (restart = 0; restart < SIDE_SOFTIRQ_RESTARTS; restart++) {
		unsigned long pending = xchg(&side_softirq_pending, 0);
		unsigned int nr;

		if (!pending) {
			side_rcu_quiescent_state();
			return 0;
		}
		__local_bh_disable_ip(_RET_IP_, SOFTIRQ_OFFSET);
		for_each_set_bit(nr, &pending, NR_SOFTIRQS) {
			void (*action)(struct softirq_action *) = READ_ONCE(side_softirq_vec[nr].action);

			if (action)
				action(&side_softirq_vec[nr]);
		}
		__preempt_count_sub(SOFTIRQ_OFFSET);
	}
	return READ_ONCE(side_softirq_pending) != 0;
}
