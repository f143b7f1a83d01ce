// SPDX-License-Identifier: GPL-2.0-only
/*
 * A request's life (block/blk-mq.c): allocated with a tag of its hardware queue (waiting for one unless told not
 * to), started by the driver (its timeout runs from then), completed by the driver (its complete callback), ended
 * (its bios completed, then its end_io or freed), and freed (its tag back, a restart of a queue waiting for one).
 * A request completed or freed while not in the state that allows it is a detected driver fault.
 */
#include <linux/blk-mq.h>
#include <linux/delay.h>
#include <linux/sched/clock.h>
#include <linux/timekeeping.h>

#include "blk.h"
#include "kapi.h"

static void side_blk_rq_init(struct request *rq, struct request_queue *q, struct blk_mq_hw_ctx *hctx, blk_opf_t opf)
{
	rq->q = q;
	rq->mq_ctx = NULL;
	rq->mq_hctx = hctx;
	rq->cmd_flags = opf;
	rq->rq_flags = 0;
	rq->timeout = 0;
	rq->part = NULL;
	rq->start_time_ns = ktime_get_ns();
	rq->io_start_time_ns = 0;
	rq->stats_sectors = 0;
	rq->nr_phys_segments = 0;
	rq->end_io = NULL;
	rq->end_io_data = NULL;
	rq->__data_len = 0;
	rq->__sector = (sector_t)-1;
	rq->bio = rq->biotail = NULL;
	INIT_LIST_HEAD(&rq->queuelist);
	WRITE_ONCE(rq->deadline, 0);
	atomic_set(&rq->ref, 1);
	WRITE_ONCE(rq->state, MQ_RQ_IDLE);
}

/* Waits (real time, bounded) for `ready`; false when the bound passed. */
static bool side_blk_wait(bool (*ready)(void *), void *arg)
{
	u64 deadline = side_host_real_clock_ns() + SIDE_BLK_WAIT_NS;

	while (!ready(arg)) {
		if (side_host_real_clock_ns() > deadline)
			return false;
		side_host_real_sleep_ns(20 * NSEC_PER_USEC);
	}
	return true;
}

static bool side_blk_not_frozen(void *arg)
{
	return READ_ONCE(((struct request_queue *)arg)->mq_freeze_depth) == 0;
}

/* A request of `q` for the calling CPU's hardware queue. Without a free tag it waits for one, as blk_mq_get_tag
 * sleeps, unless `nowait` (-EWOULDBLOCK then); a frozen queue admits no new request (-EBUSY with `nowait`). */
struct request *side_blk_alloc_request(struct request_queue *q, blk_opf_t opf, bool nowait, int *err)
{
	struct blk_mq_hw_ctx *hctx;
	struct side_blk_tags *tags;
	u64 deadline = side_host_real_clock_ns() + SIDE_BLK_WAIT_NS;
	int tag;

	if (side_blk_queue(q)->dying || blk_queue_dying(q)) {
		*err = -ENODEV;
		return NULL;
	}
	if (!side_blk_not_frozen(q) && (nowait || !side_blk_wait(side_blk_not_frozen, q))) {
		*err = nowait ? -EBUSY : -ETIMEDOUT;
		return NULL;
	}
	hctx = side_blk_map_hctx(q, opf);
	tags = side_hctx_tags(hctx);
	while ((tag = side_blk_get_tag(tags)) < 0) {
		if (nowait || side_host_real_clock_ns() > deadline) {
			*err = nowait ? -EWOULDBLOCK : -ETIMEDOUT;
			return NULL;
		}
		side_host_real_sleep_ns(20 * NSEC_PER_USEC);
	}
	side_blk_rq_init(tags->static_rqs[tag], q, hctx, opf);
	return tags->static_rqs[tag];
}

struct request *blk_mq_alloc_request(struct request_queue *q, blk_opf_t opf, blk_mq_req_flags_t flags)
{
	int err = 0;
	struct request *rq = side_blk_alloc_request(q, opf, flags & BLK_MQ_REQ_NOWAIT, &err);

	return rq ? rq : ERR_PTR(err);
}

void blk_mq_start_request(struct request *rq)
{
	rq->io_start_time_ns = ktime_get_ns();
	rq->stats_sectors = blk_rq_sectors(rq);
	if (blk_mq_rq_state(rq) != MQ_RQ_IDLE)
		pr_warn("blk-mq: request %d started twice (from %pS)\n", rq->tag, (void *)SIDE_CALLER);
	side_blk_add_timer(rq);
	WRITE_ONCE(rq->state, MQ_RQ_IN_FLIGHT);
}

/* The driver's complete callback runs here, on the completing CPU (the domain has no inter-processor interrupts
 * to steer it back to the submitter's, which Linux may do). */
void blk_mq_complete_request(struct request *rq)
{
	if (blk_mq_rq_state(rq) != MQ_RQ_IN_FLIGHT)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER,
			   "blk_mq_complete_request of request %d, which is not in flight (state %d)", rq->tag,
			   blk_mq_rq_state(rq));
	WRITE_ONCE(rq->state, MQ_RQ_COMPLETE);
	rq->q->mq_ops->complete(rq);
}

static void side_blk_finish(struct request *rq, blk_status_t error)
{
	if (rq->end_io && rq->end_io(rq, error) == RQ_END_IO_NONE)
		return; /* its end_io keeps the request */
	blk_mq_free_request(rq);
}

void blk_mq_end_request(struct request *rq, blk_status_t error)
{
	side_blk_update_request(rq, error);
	side_blk_finish(rq, error);
}

/* A polled batch the driver completed successfully: each request ends as blk_mq_end_request(rq, BLK_STS_OK). */
void blk_mq_end_request_batch(struct io_comp_batch *iob)
{
	struct request *rq;

	while ((rq = rq_list_pop(&iob->req_list)) != NULL) {
		side_blk_update_request(rq, BLK_STS_OK);
		side_blk_finish(rq, BLK_STS_OK);
	}
}

void blk_mq_free_request(struct request *rq)
{
	struct blk_mq_hw_ctx *hctx = rq->mq_hctx;
	struct side_blk_tags *tags = side_hctx_tags(hctx);

	if (rq->tag < 0 || (unsigned int)rq->tag >= tags->depth || tags->static_rqs[rq->tag] != rq ||
	    !test_bit(rq->tag, tags->bitmap))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "blk_mq_free_request of a request that is not allocated");
	WRITE_ONCE(rq->state, MQ_RQ_IDLE);
	rq->bio = rq->biotail = NULL;
	side_blk_put_tag(tags, rq->tag);
	/* A hardware queue the driver said was out of device resources runs again now (blk_mq_sched_restart). */
	if (test_and_clear_bit(BLK_MQ_S_SCHED_RESTART, &hctx->state))
		blk_mq_run_hw_queue(hctx, true);
}

struct side_sync_rq {
	blk_status_t status;
	bool done;
};

static enum rq_end_io_ret side_blk_end_sync_rq(struct request *rq, blk_status_t error)
{
	struct side_sync_rq *wait = rq->end_io_data;

	wait->status = error;
	smp_store_release(&wait->done, true);
	return RQ_END_IO_NONE;
}

static bool side_blk_sync_done(void *arg)
{
	return smp_load_acquire(&((struct side_sync_rq *)arg)->done);
}

/* Issues a passthrough request and waits for it; the caller frees it. A device that never answers is a hang. */
blk_status_t blk_execute_rq(struct request *rq, bool at_head)
{
	struct side_sync_rq wait = { .status = BLK_STS_OK, .done = false };
	LIST_HEAD(list);

	rq->end_io = side_blk_end_sync_rq;
	rq->end_io_data = &wait;
	list_add(&rq->queuelist, &list);
	side_blk_dispatch_list(rq->mq_hctx, &list);
	if (!side_blk_wait(side_blk_sync_done, &wait))
		side_fault(SIDE_FAULT_HUNG, SIDE_CALLER, "blk_execute_rq: request %d not completed in %llu s", rq->tag,
			   SIDE_BLK_WAIT_NS / NSEC_PER_SEC);
	return wait.status;
}

/* Issues a passthrough request without waiting; its end_io (the caller's) runs when it ends. */
void blk_execute_rq_nowait(struct request *rq, bool at_head)
{
	LIST_HEAD(list);

	WARN_ON(irqs_disabled());
	WARN_ON(!blk_rq_is_passthrough(rq));
	list_add(&rq->queuelist, &list);
	side_blk_dispatch_list(rq->mq_hctx, &list);
}

/* Every hardware context of a domain's queue is served by the CPU that completes (no IPI, no softirq hop): the
 * request is marked complete and false tells the driver to complete it here, as Linux does for a local one. */
bool blk_mq_complete_request_remote(struct request *rq)
{
	WRITE_ONCE(rq->state, MQ_RQ_COMPLETE);
	return false;
}

bool blk_rq_is_poll(struct request *rq)
{
	if (!rq->mq_hctx || rq->mq_hctx->type != HCTX_TYPE_POLL)
		return false;
	if (WARN_ON_ONCE(!rq->bio))
		return false;
	return true;
}
