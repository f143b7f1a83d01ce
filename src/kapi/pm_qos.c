// SPDX-License-Identifier: GPL-2.0-only
/*
 * CPU latency QoS (kernel/power/qos.c): drivers bound how long the CPUs may take to wake from idle. The requests are
 * kept and aggregated (the smallest value wins, PM_QOS_DEFAULT_VALUE without any) exactly as the kernel does;
 * the domain's virtual CPUs are host threads that never enter a deep idle state, so every limit is already met.
 * Using a request twice or one never added is the kernel's WARN and is ignored as there.
 */
#include <linux/pm_qos.h>
#include <linux/spinlock.h>

#include "kapi.h"

static DEFINE_SPINLOCK(side_qos_lock);
static LIST_HEAD(side_qos_requests);

/* The request's list node: plist_node's node_list serves as a plain list entry, its prio as the value. */
static s32 side_qos_limit_locked(void)
{
	struct plist_node *n;
	s32 limit = PM_QOS_CPU_LATENCY_DEFAULT_VALUE;

	list_for_each_entry(n, &side_qos_requests, node_list)
		limit = min(limit, n->prio);
	return limit;
}

s32 cpu_latency_qos_limit(void)
{
	unsigned long flags;
	s32 limit;

	spin_lock_irqsave(&side_qos_lock, flags);
	limit = side_qos_limit_locked();
	spin_unlock_irqrestore(&side_qos_lock, flags);
	return limit;
}

bool cpu_latency_qos_request_active(struct pm_qos_request *req)
{
	return req->qos != NULL;
}

static struct pm_qos_constraints side_qos_constraints;

void cpu_latency_qos_add_request(struct pm_qos_request *req, s32 value)
{
	unsigned long flags;

	if (!req)
		return;
	if (WARN(cpu_latency_qos_request_active(req), "%s called for already added request\n", __func__))
		return;
	req->qos = &side_qos_constraints;
	INIT_LIST_HEAD(&req->node.node_list);
	req->node.prio = value < 0 ? PM_QOS_CPU_LATENCY_DEFAULT_VALUE : value;
	spin_lock_irqsave(&side_qos_lock, flags);
	list_add_tail(&req->node.node_list, &side_qos_requests);
	spin_unlock_irqrestore(&side_qos_lock, flags);
}

void cpu_latency_qos_update_request(struct pm_qos_request *req, s32 new_value)
{
	unsigned long flags;

	if (!req)
		return;
	if (WARN(!cpu_latency_qos_request_active(req), "%s called for unknown object\n", __func__))
		return;
	spin_lock_irqsave(&side_qos_lock, flags);
	req->node.prio = new_value < 0 ? PM_QOS_CPU_LATENCY_DEFAULT_VALUE : new_value;
	spin_unlock_irqrestore(&side_qos_lock, flags);
}

void cpu_latency_qos_remove_request(struct pm_qos_request *req)
{
	unsigned long flags;

	if (!req)
		return;
	if (WARN(!cpu_latency_qos_request_active(req), "%s called for unknown object\n", __func__))
		return;
	spin_lock_irqsave(&side_qos_lock, flags);
	list_del(&req->node.node_list);
	spin_unlock_irqrestore(&side_qos_lock, flags);
	memset(req, 0, sizeof(*req));
}
