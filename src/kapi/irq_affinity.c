// SPDX-License-Identifier: GPL-2.0-only
/*
 * Interrupt affinity hints (kernel/irq/manage.c). A domain's interrupts are all handled on its softirq virtual
 * CPU; no line can be moved, which is the kernel's answer for a chip without irq_set_affinity: the hint is
 * accepted (only /proc shows it, and a domain has none) and the request to apply it changes nothing.
 */
#include <linux/interrupt.h>

#include "kapi.h"

int __irq_apply_affinity_hint(unsigned int irq, const struct cpumask *m, bool setaffinity)
{
	if (irq >= NR_IRQS)
		return -EINVAL;
	return 0;
}
