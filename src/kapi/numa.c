// SPDX-License-Identifier: GPL-2.0-only
/*
 * NUMA topology as a domain has it: one node, 0, holding every CPU and all memory (the arena). Its distance to
 * itself is LOCAL_DISTANCE, as the ACPI SLIT of a one-node machine says.
 */
#include <linux/nodemask.h>
#include <linux/percpu.h>
#include <linux/topology.h>

#include "kapi.h"

unsigned int nr_node_ids = 1;

nodemask_t node_states[NR_NODE_STATES] __read_mostly = {
	[N_POSSIBLE] = { { [0] = 1UL } },	 [N_ONLINE] = { { [0] = 1UL } },
	[N_NORMAL_MEMORY] = { { [0] = 1UL } }, [N_MEMORY] = { { [0] = 1UL } },
	[N_CPU] = { { [0] = 1UL } },
};

DEFINE_PER_CPU(int, numa_node);

int __node_distance(int from, int to)
{
	return from == to ? LOCAL_DISTANCE : REMOTE_DISTANCE;
}
