// SPDX-License-Identifier: GPL-2.0-only
/*
 * Freezing a queue (block/blk-mq.c, blk-core.c's blk_queue_enter): while frozen no new request is allocated, and
 * freezing returns once every request of the queue has ended and been freed. Freezes nest.
 */
#include <linux/blk-mq.h>
#include <linux/jiffies.h>

#include "blk.h"
#include "kapi.h"

static bool side_blk_drained(struct request_queue *q)
{
	struct side_blk_queue *sq = side_blk_queue(q);
	unsigned int i;

	for (i = 0; i < q->nr_hw_queues; i++) {
		if (atomic_read(&side_hctx_tags(sq->hctxs[i])->allocated))
			return false;
	}
	return true;
}

/* Waits (real time, bounded) until no request of `q` is allocated; a queue that never drains is a hang. */
int side_blk_wait_drained(struct request_queue *q, unsigned long caller)
{
	u64 deadline = side_host_real_clock_ns() + SIDE_BLK_WAIT_NS;

	while (!side_blk_drained(q)) {
		if (side_host_real_clock_ns() > deadline)
			side_fault(SIDE_FAULT_HUNG, caller, "request queue of %s not drained in %llu s",
				   q->disk ? q->disk->disk_name : "(no disk)", SIDE_BLK_WAIT_NS / NSEC_PER_SEC);
		side_host_real_sleep_ns(50 * NSEC_PER_USEC);
	}
	return 0;
}

void blk_freeze_queue_start(struct request_queue *q)
{
	mutex_lock(&q->mq_freeze_lock);
	if (++q->mq_freeze_depth == 1)
		blk_mq_run_hw_queues(q, false);
	mutex_unlock(&q->mq_freeze_lock);
}

void blk_mq_freeze_queue(struct request_queue *q)
{
	blk_freeze_queue_start(q);
	side_blk_wait_drained(q, SIDE_CALLER);
}

void blk_mq_unfreeze_queue(struct request_queue *q)
{
	mutex_lock(&q->mq_freeze_lock);
	if (q->mq_freeze_depth <= 0)
		pr_warn("blk-mq: unfreeze of a queue that is not frozen (from %pS)\n", (void *)SIDE_CALLER);
	else
		q->mq_freeze_depth--;
	mutex_unlock(&q->mq_freeze_lock);
}

void blk_mq_freeze_queue_wait(struct request_queue *q)
{
	side_blk_wait_drained(q, SIDE_CALLER);
}

static bool side_blk_drained_cond(void *q)
{
	return side_blk_drained(q);
}

/* Returns the jiffies left (> 0) once drained, 0 if `timeout` passed first. */
int blk_mq_freeze_queue_wait_timeout(struct request_queue *q, unsigned long timeout)
{
	u64 start = side_host_real_clock_ns();
	unsigned long waited;

	if (!side_wait_cond_ns(side_blk_drained_cond, q, jiffies64_to_nsecs(timeout)))
		return 0;
	waited = div_u64(side_host_real_clock_ns() - start, NSEC_PER_SEC / HZ);
	return waited >= timeout ? 1 : timeout - waited;
}
