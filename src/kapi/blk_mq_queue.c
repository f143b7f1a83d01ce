// SPDX-License-Identifier: GPL-2.0-only
/*
 * Request queues on a tag set (block/blk-mq.c, blk-core.c): one hardware context per hardware queue, each with
 * its queue's tags, its dispatch list and its run work; the driver's init_hctx/exit_hctx bracket a context's life.
 * A queue starts with the default limits (blk_set_default_limits) that the driver then narrows.
 */
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "blk.h"
#include "kapi.h"

static void side_blk_run_work_fn(struct work_struct *work)
{
	struct blk_mq_hw_ctx *hctx = container_of(to_delayed_work(work), struct blk_mq_hw_ctx, run_work);

	side_blk_run_hw_queue(hctx);
}

static struct blk_mq_hw_ctx *side_blk_alloc_hctx(struct request_queue *q, struct blk_mq_tag_set *set,
						 unsigned int i)
{
	struct blk_mq_hw_ctx *hctx = kzalloc(sizeof(*hctx), GFP_KERNEL);

	if (!hctx)
		return NULL;
	spin_lock_init(&hctx->lock);
	INIT_LIST_HEAD(&hctx->dispatch);
	INIT_DELAYED_WORK(&hctx->run_work, side_blk_run_work_fn);
	hctx->queue = q;
	hctx->queue_num = i;
	hctx->flags = set->flags;
	hctx->numa_node = set->numa_node;
	hctx->tags = set->tags[i];
	hctx->type = HCTX_TYPE_DEFAULT;
	if (set->ops->init_hctx && set->ops->init_hctx(hctx, set->driver_data, i)) {
		kfree(hctx);
		return NULL;
	}
	return hctx;
}

static void side_blk_exit_hctxs(struct request_queue *q, unsigned int count)
{
	struct side_blk_queue *sq = side_blk_queue(q);
	unsigned int i;

	for (i = 0; i < count; i++) {
		struct blk_mq_hw_ctx *hctx = sq->hctxs[i];

		if (!hctx)
			continue;
		cancel_delayed_work_sync(&hctx->run_work);
		if (q->tag_set->ops->exit_hctx)
			q->tag_set->ops->exit_hctx(hctx, i);
		kfree(hctx);
		sq->hctxs[i] = NULL;
	}
}

static void side_blk_init_queue_fields(struct side_blk_queue *sq, struct blk_mq_tag_set *set, void *queuedata)
{
	struct request_queue *q = &sq->q;

	sq->index = -1;
	refcount_set(&sq->refs, 1);
	q->queuedata = queuedata;
	q->mq_ops = set->ops;
	q->tag_set = set;
	q->nr_hw_queues = set->nr_hw_queues;
	q->queue_depth = set->queue_depth;
	q->nr_requests = set->queue_depth;
	q->node = set->numa_node;
	q->rq_timeout = set->timeout ? set->timeout : 30 * HZ;
	spin_lock_init(&q->queue_lock);
	mutex_init(&q->mq_freeze_lock);
	mutex_init(&q->sysfs_lock);
	side_blk_set_default_limits(&q->limits);
	/* Every blk-mq queue is "same completion" and stackable by default (blk_mq_init_allocated_queue). */
	q->queue_flags = QUEUE_FLAG_MQ_DEFAULT;
}

struct request_queue *side_blk_alloc_queue(struct blk_mq_tag_set *set, void *queuedata)
{
	struct side_blk_queue *sq = kzalloc(sizeof(*sq), GFP_KERNEL);
	unsigned int i;

	if (!sq)
		return NULL;
	side_blk_init_queue_fields(sq, set, queuedata);
	sq->hctxs = kcalloc(set->nr_hw_queues, sizeof(*sq->hctxs), GFP_KERNEL);
	if (!sq->hctxs)
		goto fail;
	for (i = 0; i < set->nr_hw_queues; i++) {
		sq->hctxs[i] = side_blk_alloc_hctx(&sq->q, set, i);
		if (!sq->hctxs[i]) {
			side_blk_exit_hctxs(&sq->q, i);
			goto fail;
		}
	}
	side_blk_requeue_init(&sq->q);
	side_blk_timeout_init(&sq->q);
	mutex_lock(&set->tag_list_lock);
	list_add_tail(&sq->q.tag_set_list, &set->tag_list);
	mutex_unlock(&set->tag_list_lock);
	return &sq->q;
fail:
	kfree(sq->hctxs);
	kfree(sq);
	return NULL;
}

/* The queue stops for good (blk_mq_exit_queue from del_gendisk): no run, requeue or timeout work remains, each
 * hardware context's exit_hctx runs, and the tag set no longer lists the queue. */
void side_blk_exit_queue(struct request_queue *q)
{
	struct side_blk_queue *sq = side_blk_queue(q);
	struct blk_mq_tag_set *set = q->tag_set;

	if (sq->dying)
		return;
	sq->dying = true;
	set_bit(QUEUE_FLAG_DYING, &q->queue_flags);
	side_blk_timeout_stop(q);
	side_blk_requeue_stop(q);
	side_blk_exit_hctxs(q, q->nr_hw_queues);
	mutex_lock(&set->tag_list_lock);
	list_del_init(&q->tag_set_list);
	mutex_unlock(&set->tag_list_lock);
}

void side_blk_free_queue(struct request_queue *q)
{
	struct side_blk_queue *sq = side_blk_queue(q);

	side_blk_exit_queue(q);
	kfree(sq->hctxs);
	kfree(sq);
}

/* The hardware context that serves the calling CPU for this kind of request (blk_mq_map_queue). */
struct blk_mq_hw_ctx *side_blk_map_hctx(struct request_queue *q, blk_opf_t opf)
{
	struct blk_mq_tag_set *set = q->tag_set;
	enum hctx_type type = HCTX_TYPE_DEFAULT;
	unsigned int idx;

	if (set->nr_maps > HCTX_TYPE_READ && set->map[HCTX_TYPE_READ].nr_queues && (opf & REQ_OP_MASK) == REQ_OP_READ)
		type = HCTX_TYPE_READ;
	idx = set->map[type].mq_map[raw_smp_processor_id()];
	if (idx >= q->nr_hw_queues)
		idx = 0;
	return side_blk_queue(q)->hctxs[idx];
}

/* A request queue of its own on the tag set, with no disk (an admin or connect queue): blk_mq_init_queue. */
struct request_queue *blk_mq_init_queue(struct blk_mq_tag_set *set)
{
	struct request_queue *q = side_blk_alloc_queue(set, NULL);

	return q ? q : ERR_PTR(-ENOMEM);
}

/* The queue stops for good: no new request, those in flight drained (bounded), its timeout stopped, its hardware
 * contexts exited. The caller's reference stays until blk_put_queue() (6.1 since "blk-mq: move the call to
 * blk_put_queue out of blk_mq_destroy_queue"). */
void blk_mq_destroy_queue(struct request_queue *q)
{
	blk_queue_flag_set(QUEUE_FLAG_DYING, q);
	blk_freeze_queue_start(q);
	side_blk_wait_drained(q, SIDE_CALLER);
	blk_sync_queue(q);
	side_blk_exit_queue(q);
}

void blk_put_queue(struct request_queue *q)
{
	if (refcount_dec_and_test(&side_blk_queue(q)->refs))
		side_blk_free_queue(q);
}

bool blk_get_queue(struct request_queue *q)
{
	if (unlikely(blk_queue_dying(q)))
		return false;
	refcount_inc(&side_blk_queue(q)->refs);
	return true;
}
