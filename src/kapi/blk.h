/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The block layer's private state (what Linux keeps in block/blk-mq.h, blk-mq-tag.h and blk.h, none of which a
 * driver sees): tags, the queue's bookkeeping beside struct request_queue, the disk table, and the calls between
 * the layer's block files. A driver only ever holds the public structures (request_queue, gendisk, request,
 * blk_mq_hw_ctx); everything here hangs off them by containment.
 */
#ifndef SIDE_KAPI_BLK_H
#define SIDE_KAPI_BLK_H

#include <linux/blk-mq.h>
#include <linux/blkdev.h>

/* One hardware queue's tags: a bitmap of `depth` tags, the preallocated request of each, and how many are
 * allocated (what freezing waits to drain). It begins with Linux's struct blk_mq_tags, which drivers read through
 * the inline blk_mq_tag_to_rq() (nvme finds a completion's request so): nr_tags, and rqs[], the request that holds
 * each tag (with no I/O scheduler, always the tag's preallocated request). */
struct side_blk_tags {
	struct blk_mq_tags mq;
	unsigned int depth;
	unsigned int hctx_idx;
	spinlock_t lock;
	unsigned long *bitmap;
	struct request **static_rqs;
	atomic_t allocated;
};

/* A request queue and what the block core keeps beside it. The queue comes last: it ends in a flexible array. */
struct side_blk_queue {
	struct block_device part0;
	struct blk_mq_hw_ctx **hctxs; /* nr_hw_queues of them (Linux's hctx_table) */
	bool dying;
	refcount_t refs;	 /* blk_put_queue() frees the queue at 0 (queues of blk_mq_init_queue) */
	atomic_t dispatching; /* dispatches in progress: what blk_mq_wait_quiesce_done() waits out */
	int index; /* in the disk table, -1 before add_disk and after del_gendisk */
	atomic64_t requests, segments; /* what side's own requests became (block_submit.c) */
	struct request_queue q;
};

static inline struct side_blk_queue *side_blk_queue(struct request_queue *q)
{
	return container_of(q, struct side_blk_queue, q);
}

static inline struct side_blk_tags *side_hctx_tags(struct blk_mq_hw_ctx *hctx)
{
	return (struct side_blk_tags *)hctx->tags;
}

/* Real time waits of the block layer (a tag, a drained queue, a synchronous request) end in a detected hang after
 * this long: nothing in a domain may wait for ever. */
#define SIDE_BLK_WAIT_NS (30ULL * NSEC_PER_SEC)

/* blk_mq_tag.c */
struct side_blk_tags *side_blk_tags_alloc(struct blk_mq_tag_set *set, unsigned int hctx_idx);
void side_blk_tags_free(struct blk_mq_tag_set *set, struct side_blk_tags *tags);
int side_blk_get_tag(struct side_blk_tags *tags);
void side_blk_put_tag(struct side_blk_tags *tags, int tag);

/* blk_mq.c */
struct request *side_blk_alloc_request(struct request_queue *q, blk_opf_t opf, bool nowait, int *err);
/* Hands requests (linked through queuelist) to the driver's queue_rq in order, bd->last on the last one. */
void side_blk_dispatch_list(struct blk_mq_hw_ctx *hctx, struct list_head *list);
struct blk_mq_hw_ctx *side_blk_map_hctx(struct request_queue *q, blk_opf_t opf);
void side_blk_run_hw_queue(struct blk_mq_hw_ctx *hctx);
struct request_queue *side_blk_alloc_queue(struct blk_mq_tag_set *set, void *queuedata);
void side_blk_exit_queue(struct request_queue *q);
void side_blk_free_queue(struct request_queue *q);
int side_blk_wait_drained(struct request_queue *q, unsigned long caller);

/* blk_mq_tag.c: calls fn on every started request of the set's tags until it returns false. */
void side_blk_tagset_iter(struct blk_mq_tag_set *set, busy_tag_iter_fn *fn, void *priv);

/* blk_timeout.c */
void side_blk_timeout_init(struct request_queue *q);
void side_blk_timeout_stop(struct request_queue *q);
void side_blk_add_timer(struct request *rq);

/* blk_mq_dispatch.c */
void side_blk_requeue_init(struct request_queue *q);
void side_blk_requeue_stop(struct request_queue *q);

/* blk_settings.c */
void side_blk_set_default_limits(struct queue_limits *lim);

/* genhd.c: the disks added and not yet deleted, by index. */
#define SIDE_MAX_DISKS 16
struct gendisk *side_disk_get(unsigned int index);

/* block_entry.c: whether [p, p+len) is memory of the arena (what a device can reach). */
bool side_blk_in_arena(const void *p, u64 len);

/* bio.c */
void side_blk_update_request(struct request *rq, blk_status_t error);
/* Counts the physical segments of a request's bios as the splitting code does. */
unsigned int side_blk_count_segments(struct request_queue *q, struct bio *bio);
/* The longest segment that may start at bus address `addr` (segment size and boundary). */
unsigned int side_blk_max_segment(struct request_queue *q, phys_addr_t addr);
void side_bio_endio(struct bio *bio);
struct bio *side_bio_map_kernel(void *addr, unsigned int len, blk_opf_t opf);

#endif
