// SPDX-License-Identifier: GPL-2.0-only
/* Off-stack CPU masks and the wrapping walk (lib/cpumask.c); Debian builds with CONFIG_CPUMASK_OFFSTACK. */
#include <linux/cpumask.h>
#include <linux/slab.h>

#include "kapi.h"

bool alloc_cpumask_var_node(cpumask_var_t *mask, gfp_t flags, int node)
{
	*mask = kmalloc(cpumask_size(), flags);
	return *mask != NULL;
}

void free_cpumask_var(cpumask_var_t mask)
{
	kfree(mask);
}

/* The next CPU in `mask` after `n`, wrapping once past the end and stopping before `start` again. */
unsigned int cpumask_next_wrap(int n, const struct cpumask *mask, int start, bool wrap)
{
	unsigned int next;
	int rounds = 2;

	while (rounds--) {
		next = cpumask_next(n, mask);
		if (wrap && n < start && next >= start)
			return nr_cpumask_bits;
		if (next < nr_cpumask_bits)
			return next;
		wrap = true;
		n = -1;
	}
	return nr_cpumask_bits;
}
