// SPDX-License-Identifier: GPL-2.0-only
/*
 * side's requests to a disk (side_host.h, "block devices"): what submit_bio and the layers below it do for one
 * bio (block/blk-core.c, blk-merge.c, blk-mq.c, blk-flush.c). The request is checked (disk, range, alignment,
 * read-only), cut into requests within the queue's limits as bio_split_to_limits cuts (max_sectors from the
 * physical block alignment, max_segments, segment size and boundary), each request carrying one bio over the
 * caller's arena pieces; requests are allocated with tags (a plug of at most 32 is dispatched before waiting for
 * a tag) and dispatched through queue_rq with bd->last on the last of a batch. A flush is a REQ_OP_FLUSH only
 * with a volatile write cache; FUA is the device's when it has it, else a flush after the write (blk-flush.c).
 * The caller hears once, when every request has ended: the first error, or 0.
 */
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "blk.h"
#include "block_submit.h"
#include "kapi.h"

/* Requests held in the plug before they go to the driver (BLK_MAX_REQUEST_COUNT). */
#define SIDE_PLUG_MAX 32

static void side_sub_phase_done(struct side_blk_sub *sub);

static void side_sub_bio_end(struct bio *bio)
{
	struct side_blk_sub *sub = bio->bi_private;

	if (bio->bi_status)
		cmpxchg(&sub->status, 0, blk_status_to_errno(bio->bi_status));
	kfree(bio->bi_io_vec);
	kfree(bio);
	if (atomic_dec_and_test(&sub->pending))
		side_sub_phase_done(sub);
}

struct bio *side_sub_new_bio(struct side_blk_sub *sub, blk_opf_t opf, sector_t sector, unsigned int max_vecs)
{
	struct bio *bio = kzalloc(sizeof(*bio), GFP_KERNEL);

	if (!bio)
		return NULL;
	if (max_vecs) {
		bio->bi_io_vec = kcalloc(max_vecs, sizeof(struct bio_vec), GFP_KERNEL);
		if (!bio->bi_io_vec) {
			kfree(bio);
			return NULL;
		}
	}
	bio->bi_max_vecs = max_vecs;
	bio->bi_opf = opf;
	bio->bi_iter.bi_sector = sector;
	bio->bi_bdev = sub->disk->part0;
	bio->bi_end_io = side_sub_bio_end;
	bio->bi_private = sub;
	atomic_set(&bio->__bi_cnt, 1);
	return bio;
}

/* Dispatches the plugged requests (blk_flush_plug). */
static void side_sub_flush_plug(struct side_blk_sub *sub)
{
	struct request *rq;

	if (list_empty(&sub->plug))
		return;
	rq = list_first_entry(&sub->plug, struct request, queuelist);
	side_blk_dispatch_list(rq->mq_hctx, &sub->plug);
	sub->plugged = 0;
}

/* A request for `bio`, the plug flushed first if no tag is free. NULL: none (the bio ended with the error). */
static struct request *side_sub_request(struct side_blk_sub *sub, struct bio *bio)
{
	struct request_queue *q = sub->disk->queue;
	struct request *rq;
	int err = 0;

	rq = side_blk_alloc_request(q, bio->bi_opf, true, &err);
	if (!rq && err == -EWOULDBLOCK && !(sub->flags & SIDE_BLOCK_NOWAIT)) {
		side_sub_flush_plug(sub);
		rq = side_blk_alloc_request(q, bio->bi_opf, false, &err);
	}
	if (!rq) {
		bio->bi_status = err == -EWOULDBLOCK ? BLK_STS_AGAIN : BLK_STS_RESOURCE;
		side_bio_endio(bio);
		return NULL;
	}
	rq->__sector = bio->bi_iter.bi_sector;
	rq->__data_len = bio->bi_iter.bi_size;
	rq->bio = rq->biotail = bio;
	rq->part = sub->disk->part0;
	return rq;
}

/* Issues one bio as one request: into the plug, which goes to the driver when full. */
int side_sub_issue(struct side_blk_sub *sub, struct bio *bio, unsigned int nsegs)
{
	struct request *rq;

	atomic_inc(&sub->pending);
	rq = side_sub_request(sub, bio);
	if (!rq)
		return -EAGAIN;
	rq->nr_phys_segments = nsegs;
	atomic64_inc(&side_blk_queue(rq->q)->requests);
	atomic64_add(nsegs, &side_blk_queue(rq->q)->segments);
	list_add_tail(&rq->queuelist, &sub->plug);
	if (++sub->plugged >= SIDE_PLUG_MAX)
		side_sub_flush_plug(sub);
	return 0;
}

static void side_sub_issue_flush(struct side_blk_sub *sub)
{
	struct bio *bio = side_sub_new_bio(sub, REQ_OP_FLUSH | REQ_PREFLUSH | REQ_SYNC, 0, 0);

	if (!bio) {
		cmpxchg(&sub->status, 0, -ENOMEM);
		return;
	}
	side_sub_issue(sub, bio, 0);
}

/* Runs the submission's current phase. The builder holds a reference while it builds (requests dispatched on
 * the way may complete meanwhile), and gives it up before the last plug goes to the driver: each completion then
 * comes from the driver's completion context, never from the submitter's stack, and if nothing is left in flight
 * (nothing could be issued) the completion is reported from block work. */
static void side_sub_run_phase(struct side_blk_sub *sub)
{
	LIST_HEAD(plug);
	struct request *rq;

	atomic_inc(&sub->pending);
	if (sub->phase == SIDE_SUB_DATA)
		side_sub_build_data(sub);
	else
		side_sub_issue_flush(sub);
	list_splice_init(&sub->plug, &plug);
	sub->plugged = 0;
	if (atomic_dec_and_test(&sub->pending)) {
		queue_work(system_wq, &sub->done_work);
		return;
	}
	if (list_empty(&plug))
		return;
	rq = list_first_entry(&plug, struct request, queuelist);
	side_blk_dispatch_list(rq->mq_hctx, &plug);
}

static void side_sub_work_fn(struct work_struct *work)
{
	side_sub_run_phase(container_of(work, struct side_blk_sub, work));
}

static void side_sub_done_work_fn(struct work_struct *work)
{
	side_sub_phase_done(container_of(work, struct side_blk_sub, done_work));
}

/* The next phase runs from block work (the flush machinery's requeue): completions come in interrupts. */
static void side_sub_phase_done(struct side_blk_sub *sub)
{
	while (!sub->status && ++sub->phase < SIDE_SUB_END) {
		if (sub->phases & (1u << sub->phase)) {
			queue_work(system_wq, &sub->work);
			return;
		}
	}
	sub->done(sub->cookie, sub->status);
	kfree(sub->segs);
	kfree(sub);
}

/* Which phases a request needs (blk_flush_policy): flushes only with a volatile write cache, FUA kept when the
 * device has it and emulated by a flush after the write otherwise. */
static void side_sub_plan(struct side_blk_sub *sub, struct request_queue *q)
{
	bool wc = test_bit(QUEUE_FLAG_WC, &q->queue_flags), fua = test_bit(QUEUE_FLAG_FUA, &q->queue_flags);
	unsigned int op = sub->flags & SIDE_BLOCK_OP_MASK;

	sub->phases = 0;
	if (op == SIDE_BLOCK_FLUSH) {
		if (wc)
			sub->phases = 1u << SIDE_SUB_PREFLUSH;
		return;
	}
	sub->phases = 1u << SIDE_SUB_DATA;
	if (op != SIDE_BLOCK_WRITE || !wc)
		return;
	if (sub->flags & SIDE_BLOCK_PREFLUSH)
		sub->phases |= 1u << SIDE_SUB_PREFLUSH;
	if (sub->flags & SIDE_BLOCK_FUA) {
		if (fua)
			sub->data_opf |= REQ_FUA;
		else
			sub->phases |= 1u << SIDE_SUB_POSTFLUSH;
	}
}

/* Starts an accepted submission; one without any phase (a flush of a disk without a write cache) is done. */
void side_sub_start(struct side_blk_sub *sub)
{
	INIT_LIST_HEAD(&sub->plug);
	INIT_WORK(&sub->work, side_sub_work_fn);
	INIT_WORK(&sub->done_work, side_sub_done_work_fn);
	side_sub_plan(sub, sub->disk->queue);
	for (sub->phase = 0; sub->phase < SIDE_SUB_END; sub->phase++) {
		if (sub->phases & (1u << sub->phase)) {
			side_sub_run_phase(sub);
			return;
		}
	}
	queue_work(system_wq, &sub->done_work);
}
