// SPDX-License-Identifier: GPL-2.0-only
/*
 * Asynchronous function calls (kernel/async.c): async_schedule_node() runs func(data, cookie) later, on the
 * workqueue worker (Linux uses system_unbound_wq), and returns its cookie; cookies grow by one per call. When no
 * entry can be allocated, the call runs at once, synchronously, as Linux does. async_synchronize_full() waits
 * (bounded) until every call scheduled so far has run.
 */
#include <linux/async.h>
#include <linux/atomic.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "kapi.h"

struct side_async_entry {
	struct work_struct work;
	async_cookie_t cookie;
	async_func_t func;
	void *data;
};

static atomic64_t side_async_next = ATOMIC64_INIT(1);
static atomic_t side_async_pending = ATOMIC_INIT(0);

static void side_async_run(struct work_struct *work)
{
	struct side_async_entry *entry = container_of(work, struct side_async_entry, work);

	entry->func(entry->data, entry->cookie);
	kfree(entry);
	atomic_dec(&side_async_pending);
}

async_cookie_t async_schedule_node(async_func_t func, void *data, int node)
{
	struct side_async_entry *entry = kzalloc(sizeof(*entry), GFP_ATOMIC);
	async_cookie_t cookie = atomic64_inc_return(&side_async_next) - 1;

	if (!entry) {
		func(data, cookie);
		return cookie;
	}
	INIT_WORK(&entry->work, side_async_run);
	entry->cookie = cookie;
	entry->func = func;
	entry->data = data;
	atomic_inc(&side_async_pending);
	queue_work(system_unbound_wq, &entry->work);
	return cookie;
}

static bool side_async_idle(void *unused)
{
	return !atomic_read(&side_async_pending);
}

void async_synchronize_full(void)
{
	if (!side_wait_cond_ns(side_async_idle, NULL, SIDE_SLEEP_HANG_NS))
		side_fault(SIDE_FAULT_HUNG, SIDE_CALLER, "async_synchronize_full: calls still pending after %llu s",
			   SIDE_SLEEP_HANG_NS / NSEC_PER_SEC);
}
