// SPDX-License-Identifier: GPL-2.0-only
/*
 * Request timeouts (block/blk-timeout.c, blk-mq.c's timeout work): a started request must complete within its
 * timeout (the queue's, 30 s unless the driver set another); one timer per queue fires at the earliest deadline,
 * and its work calls the driver's timeout handler for each expired request: BLK_EH_RESET_TIMER gives it another
 * period, BLK_EH_DONE leaves it to the driver. A driver without a handler has its requests' timers reset.
 */
#include <linux/blk-mq.h>
#include <linux/jiffies.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

#include "blk.h"
#include "kapi.h"

void side_blk_add_timer(struct request *rq)
{
	struct request_queue *q = rq->q;
	unsigned long expiry;

	if (!rq->timeout)
		rq->timeout = q->rq_timeout;
	rq->rq_flags &= ~RQF_TIMED_OUT;
	expiry = jiffies + rq->timeout;
	WRITE_ONCE(rq->deadline, expiry);
	if (!timer_pending(&q->timeout) || time_before(expiry, q->timeout.expires))
		mod_timer(&q->timeout, expiry);
}

static void side_blk_timed_out(struct request *rq)
{
	rq->rq_flags |= RQF_TIMED_OUT;
	if (rq->q->mq_ops->timeout) {
		enum blk_eh_timer_return ret = rq->q->mq_ops->timeout(rq);

		if (ret == BLK_EH_DONE)
			return;
		if (ret != BLK_EH_RESET_TIMER)
			pr_warn("blk-mq: timeout handler %ps returned %d\n", rq->q->mq_ops->timeout, ret);
	}
	side_blk_add_timer(rq);
}

/* Checks each request of one hardware queue; `next` is the earliest deadline still ahead (0: none). */
static void side_blk_check_tags(struct side_blk_tags *tags, unsigned long *next)
{
	unsigned int tag;

	for (tag = 0; tag < tags->depth; tag++) {
		struct request *rq = tags->static_rqs[tag];
		unsigned long deadline;

		if (!test_bit(tag, tags->bitmap) || blk_mq_rq_state(rq) != MQ_RQ_IN_FLIGHT ||
		    (rq->rq_flags & RQF_TIMED_OUT))
			continue;
		deadline = READ_ONCE(rq->deadline);
		if (time_after_eq(jiffies, deadline))
			side_blk_timed_out(rq);
		else if (!*next || time_before(deadline, *next))
			*next = deadline;
	}
}

static void side_blk_timeout_work_fn(struct work_struct *work)
{
	struct request_queue *q = container_of(work, struct request_queue, timeout_work);
	struct side_blk_queue *sq = side_blk_queue(q);
	unsigned long next = 0;
	unsigned int i;

	if (sq->dying)
		return;
	for (i = 0; i < q->nr_hw_queues; i++) {
		struct side_blk_tags *tags = side_hctx_tags(sq->hctxs[i]);

		/* Shared tags are one set for every queue: checked once. */
		if (i && tags == side_hctx_tags(sq->hctxs[0]))
			break;
		side_blk_check_tags(tags, &next);
	}
	if (next && (!timer_pending(&q->timeout) || time_before(next, q->timeout.expires)))
		mod_timer(&q->timeout, next);
}

static void side_blk_timeout_timer_fn(struct timer_list *t)
{
	struct request_queue *q = from_timer(q, t, timeout);

	queue_work(system_wq, &q->timeout_work);
}

void side_blk_timeout_init(struct request_queue *q)
{
	timer_setup(&q->timeout, side_blk_timeout_timer_fn, 0);
	INIT_WORK(&q->timeout_work, side_blk_timeout_work_fn);
}

void side_blk_timeout_stop(struct request_queue *q)
{
	timer_delete_sync(&q->timeout);
	cancel_work_sync(&q->timeout_work);
}

/* No timeout check runs or is pending when this returns; the next request started arms the timer again. */
void blk_sync_queue(struct request_queue *q)
{
	timer_delete_sync(&q->timeout);
	cancel_work_sync(&q->timeout_work);
}
