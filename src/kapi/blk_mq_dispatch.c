// SPDX-License-Identifier: GPL-2.0-only
/*
 * Handing requests to the driver (block/blk-mq.c's dispatch, blk-mq-sched.c's restart): queue_rq one request at a
 * time with bd->last on the last of a batch (commit_rqs if the batch ends early), requests the driver has no room
 * for kept on the hardware context's dispatch list and retried (after a delay, or when a request of the queue is
 * freed), nothing dispatched while the context is stopped or the queue quiesced. Requeued requests go back
 * through the requeue list and its work, as blk_mq_requeue_request puts them.
 */
#include <linux/blk-mq.h>
#include <linux/workqueue.h>

#include "blk.h"
#include "kapi.h"

/* How long a queue whose driver said BLK_STS_RESOURCE waits before it runs again (BLK_MQ_RESOURCE_DELAY). */
#define SIDE_BLK_RESOURCE_DELAY_MS 3

static bool side_blk_hctx_blocked(struct blk_mq_hw_ctx *hctx)
{
	return test_bit(BLK_MQ_S_STOPPED, &hctx->state) || blk_queue_quiesced(hctx->queue) ||
	       side_blk_queue(hctx->queue)->dying;
}

static void side_blk_park(struct blk_mq_hw_ctx *hctx, struct list_head *list)
{
	spin_lock_irq(&hctx->lock);
	list_splice_init(list, &hctx->dispatch);
	spin_unlock_irq(&hctx->lock);
}

/* The driver is out of room: the rest waits at the head of the dispatch list until a restart or a delayed run. */
static void side_blk_busy(struct blk_mq_hw_ctx *hctx, struct list_head *list, blk_status_t ret)
{
	side_blk_park(hctx, list);
	if (ret == BLK_STS_DEV_RESOURCE)
		set_bit(BLK_MQ_S_SCHED_RESTART, &hctx->state);
	if (ret == BLK_STS_RESOURCE || !atomic_read(&side_hctx_tags(hctx)->allocated))
		blk_mq_delay_run_hw_queue(hctx, SIDE_BLK_RESOURCE_DELAY_MS);
}

static void side_blk_dispatch_locked(struct blk_mq_hw_ctx *hctx, struct list_head *list);

/* Counted while it runs, from before the quiesce check: once blk_mq_wait_quiesce_done() saw no dispatch, every
 * later one sees the queue quiesced (what Linux's RCU read section around dispatch gives). */
void side_blk_dispatch_list(struct blk_mq_hw_ctx *hctx, struct list_head *list)
{
	atomic_t *dispatching = &side_blk_queue(hctx->queue)->dispatching;

	atomic_inc(dispatching);
	smp_mb__after_atomic();
	side_blk_dispatch_locked(hctx, list);
	atomic_dec(dispatching);
}

static void side_blk_dispatch_locked(struct blk_mq_hw_ctx *hctx, struct list_head *list)
{
	const struct blk_mq_ops *ops = hctx->queue->mq_ops;
	blk_status_t ret = BLK_STS_OK;
	unsigned int queued = 0;

	if (side_blk_hctx_blocked(hctx)) {
		side_blk_park(hctx, list);
		return;
	}
	while (!list_empty(list)) {
		struct request *rq = list_first_entry(list, struct request, queuelist);
		struct blk_mq_queue_data bd = { .rq = rq };

		list_del_init(&rq->queuelist);
		bd.last = list_empty(list);
		ret = ops->queue_rq(hctx, &bd);
		if (ret == BLK_STS_RESOURCE || ret == BLK_STS_DEV_RESOURCE) {
			list_add(&rq->queuelist, list);
			break;
		}
		if (ret != BLK_STS_OK)
			blk_mq_end_request(rq, ret);
		else
			queued++;
	}
	/* The last request the driver took was not marked last: let it kick the hardware now. */
	if ((!list_empty(list) || ret != BLK_STS_OK) && ops->commit_rqs && queued)
		ops->commit_rqs(hctx);
	if (!list_empty(list))
		side_blk_busy(hctx, list, ret);
}

void side_blk_run_hw_queue(struct blk_mq_hw_ctx *hctx)
{
	LIST_HEAD(list);

	if (side_blk_hctx_blocked(hctx))
		return;
	spin_lock_irq(&hctx->lock);
	list_splice_init(&hctx->dispatch, &list);
	spin_unlock_irq(&hctx->lock);
	if (!list_empty(&list))
		side_blk_dispatch_list(hctx, &list);
}

void blk_mq_run_hw_queue(struct blk_mq_hw_ctx *hctx, bool async)
{
	if (async || in_interrupt() || irqs_disabled())
		queue_delayed_work(system_wq, &hctx->run_work, 0);
	else
		side_blk_run_hw_queue(hctx);
}

void blk_mq_delay_run_hw_queue(struct blk_mq_hw_ctx *hctx, unsigned long msecs)
{
	mod_delayed_work(system_wq, &hctx->run_work, msecs_to_jiffies(msecs));
}

void blk_mq_run_hw_queues(struct request_queue *q, bool async)
{
	unsigned int i;

	for (i = 0; i < q->nr_hw_queues; i++)
		blk_mq_run_hw_queue(side_blk_queue(q)->hctxs[i], async);
}

void blk_mq_stop_hw_queue(struct blk_mq_hw_ctx *hctx)
{
	cancel_delayed_work(&hctx->run_work);
	set_bit(BLK_MQ_S_STOPPED, &hctx->state);
}

void blk_mq_start_stopped_hw_queues(struct request_queue *q, bool async)
{
	unsigned int i;

	for (i = 0; i < q->nr_hw_queues; i++) {
		struct blk_mq_hw_ctx *hctx = side_blk_queue(q)->hctxs[i];

		if (test_and_clear_bit(BLK_MQ_S_STOPPED, &hctx->state))
			blk_mq_run_hw_queue(hctx, async);
	}
}

void blk_mq_quiesce_queue_nowait(struct request_queue *q)
{
	unsigned long flags;

	spin_lock_irqsave(&q->queue_lock, flags);
	if (!q->quiesce_depth++)
		set_bit(QUEUE_FLAG_QUIESCED, &q->queue_flags);
	spin_unlock_irqrestore(&q->queue_lock, flags);
}

void blk_mq_unquiesce_queue(struct request_queue *q)
{
	unsigned long flags;
	bool run = false;

	spin_lock_irqsave(&q->queue_lock, flags);
	if (q->quiesce_depth <= 0) {
		pr_warn("blk-mq: unquiesce of a queue that is not quiesced (from %pS)\n", (void *)SIDE_CALLER);
	} else if (!--q->quiesce_depth) {
		clear_bit(QUEUE_FLAG_QUIESCED, &q->queue_flags);
		run = true;
	}
	spin_unlock_irqrestore(&q->queue_lock, flags);
	if (run)
		blk_mq_run_hw_queues(q, true);
}

static void side_blk_requeue_work_fn(struct work_struct *work)
{
	struct request_queue *q = container_of(to_delayed_work(work), struct request_queue, requeue_work);
	LIST_HEAD(list);
	struct request *rq, *next;

	spin_lock_irq(&q->requeue_lock);
	list_splice_init(&q->requeue_list, &list);
	spin_unlock_irq(&q->requeue_lock);
	/* Back to the head of their hardware queue's dispatch list, in requeue order, then every queue runs. */
	list_for_each_entry_safe_reverse(rq, next, &list, queuelist) {
		struct blk_mq_hw_ctx *hctx = rq->mq_hctx;

		spin_lock_irq(&hctx->lock);
		list_move(&rq->queuelist, &hctx->dispatch);
		spin_unlock_irq(&hctx->lock);
	}
	blk_mq_run_hw_queues(q, false);
}

void side_blk_requeue_init(struct request_queue *q)
{
	INIT_LIST_HEAD(&q->requeue_list);
	spin_lock_init(&q->requeue_lock);
	INIT_DELAYED_WORK(&q->requeue_work, side_blk_requeue_work_fn);
}

void side_blk_requeue_stop(struct request_queue *q)
{
	cancel_delayed_work_sync(&q->requeue_work);
}

void blk_mq_kick_requeue_list(struct request_queue *q)
{
	mod_delayed_work(system_wq, &q->requeue_work, 0);
}

/* The request goes back to the block layer unstarted, keeping its tag and bios, and is dispatched again once the
 * requeue list is kicked. */
void blk_mq_requeue_request(struct request *rq, bool kick_requeue_list)
{
	struct request_queue *q = rq->q;
	unsigned long flags;

	if (blk_mq_rq_state(rq) == MQ_RQ_IDLE && !test_bit(rq->tag, side_hctx_tags(rq->mq_hctx)->bitmap))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "blk_mq_requeue_request of a request that is not allocated");
	WRITE_ONCE(rq->state, MQ_RQ_IDLE);
	rq->rq_flags &= ~RQF_TIMED_OUT;
	spin_lock_irqsave(&q->requeue_lock, flags);
	list_add(&rq->queuelist, &q->requeue_list);
	spin_unlock_irqrestore(&q->requeue_lock, flags);
	if (kick_requeue_list)
		blk_mq_kick_requeue_list(q);
}

void blk_mq_delay_kick_requeue_list(struct request_queue *q, unsigned long msecs)
{
	mod_delayed_work(system_wq, &q->requeue_work, msecs_to_jiffies(msecs));
}

/* kblockd is a high-priority workqueue; every workqueue of a domain runs on its one worker. */
int kblockd_schedule_work(struct work_struct *work)
{
	return queue_work(system_highpri_wq, work);
}

static bool side_blk_no_dispatch(void *q)
{
	return !atomic_read(&side_blk_queue(q)->dispatching);
}

/* Waits out the dispatches that started before the queue was quiesced (bounded: one that never returns from the
 * driver's queue_rq is a hang). */
void blk_mq_wait_quiesce_done(struct request_queue *q)
{
	if (!side_wait_cond_ns(side_blk_no_dispatch, q, SIDE_BLK_WAIT_NS))
		side_fault(SIDE_FAULT_HUNG, SIDE_CALLER, "blk_mq_wait_quiesce_done: queue_rq still running after %llu s",
			   SIDE_BLK_WAIT_NS / NSEC_PER_SEC);
}

void blk_mq_quiesce_queue(struct request_queue *q)
{
	blk_mq_quiesce_queue_nowait(q);
	blk_mq_wait_quiesce_done(q);
}
