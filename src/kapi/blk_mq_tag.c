// SPDX-License-Identifier: GPL-2.0-only
/*
 * Tags (block/blk-mq-tag.c): each hardware queue owns queue_depth tags, a tag names one preallocated request, and
 * a request exists only while it holds its tag. The driver's init_request/exit_request callbacks run once per
 * preallocated request, when the tag set is allocated and freed, as blk_mq_alloc_rqs/blk_mq_free_rqs call them.
 */
#include <linux/bitops.h>
#include <linux/slab.h>

#include "blk.h"
#include "kapi.h"

static void side_blk_free_rqs(struct blk_mq_tag_set *set, struct side_blk_tags *tags, unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		if (set->ops->exit_request)
			set->ops->exit_request(set, tags->static_rqs[i], tags->hctx_idx);
		kfree(tags->static_rqs[i]);
	}
}

/* Each request is followed by the driver's cmd_size bytes (blk_mq_rq_to_pdu), in the arena: drivers map parts of
 * it for DMA (virtio_blk's header and status byte). */
static int side_blk_alloc_rqs(struct blk_mq_tag_set *set, struct side_blk_tags *tags)
{
	unsigned int i;

	for (i = 0; i < tags->depth; i++) {
		struct request *rq = kzalloc(sizeof(*rq) + set->cmd_size, GFP_KERNEL);

		if (!rq)
			goto fail;
		tags->static_rqs[i] = rq;
		rq->tag = i;
		rq->internal_tag = -1U; /* no scheduler tag (BLK_MQ_NO_TAG) */
		WRITE_ONCE(rq->state, MQ_RQ_IDLE);
		if (set->ops->init_request && set->ops->init_request(set, rq, tags->hctx_idx, set->numa_node)) {
			kfree(rq);
			goto fail;
		}
	}
	return 0;
fail:
	side_blk_free_rqs(set, tags, i);
	return -ENOMEM;
}

struct side_blk_tags *side_blk_tags_alloc(struct blk_mq_tag_set *set, unsigned int hctx_idx)
{
	struct side_blk_tags *tags = kzalloc(sizeof(*tags), GFP_KERNEL);

	if (!tags)
		return NULL;
	tags->depth = set->queue_depth;
	tags->hctx_idx = hctx_idx;
	spin_lock_init(&tags->lock);
	tags->bitmap = kcalloc(BITS_TO_LONGS(tags->depth), sizeof(long), GFP_KERNEL);
	tags->static_rqs = kcalloc(tags->depth, sizeof(*tags->static_rqs), GFP_KERNEL);
	tags->mq.nr_tags = tags->depth;
	tags->mq.nr_reserved_tags = set->reserved_tags;
	tags->mq.rqs = tags->static_rqs;
	tags->mq.static_rqs = tags->static_rqs;
	spin_lock_init(&tags->mq.lock);
	INIT_LIST_HEAD(&tags->mq.page_list);
	if (!tags->bitmap || !tags->static_rqs || side_blk_alloc_rqs(set, tags)) {
		kfree(tags->bitmap);
		kfree(tags->static_rqs);
		kfree(tags);
		return NULL;
	}
	return tags;
}

void side_blk_tags_free(struct blk_mq_tag_set *set, struct side_blk_tags *tags)
{
	if (!tags)
		return;
	side_blk_free_rqs(set, tags, tags->depth);
	kfree(tags->bitmap);
	kfree(tags->static_rqs);
	kfree(tags);
}

/* The lowest free tag, or -1 when all queue_depth are taken. */
int side_blk_get_tag(struct side_blk_tags *tags)
{
	unsigned long flags;
	unsigned int tag;

	spin_lock_irqsave(&tags->lock, flags);
	tag = find_first_zero_bit(tags->bitmap, tags->depth);
	if (tag < tags->depth) {
		__set_bit(tag, tags->bitmap);
		atomic_inc(&tags->allocated);
	}
	spin_unlock_irqrestore(&tags->lock, flags);
	return tag < tags->depth ? (int)tag : -1;
}

void side_blk_put_tag(struct side_blk_tags *tags, int tag)
{
	unsigned long flags;

	spin_lock_irqsave(&tags->lock, flags);
	if (tag >= 0 && (unsigned int)tag < tags->depth && __test_and_clear_bit(tag, tags->bitmap))
		atomic_dec(&tags->allocated);
	spin_unlock_irqrestore(&tags->lock, flags);
}

/* Every started request of the set's tags (one set when they are shared), in tag order. No tag lock is held
 * while fn runs: fn may complete and free the request, which takes that lock. */
void side_blk_tagset_iter(struct blk_mq_tag_set *set, busy_tag_iter_fn *fn, void *priv)
{
	unsigned int nr = (set->flags & BLK_MQ_F_TAG_HCTX_SHARED) ? 1 : set->nr_hw_queues;
	unsigned int i, tag;

	for (i = 0; set->tags && i < nr; i++) {
		struct side_blk_tags *tags = (struct side_blk_tags *)set->tags[i];

		for (tag = 0; tags && tag < tags->depth; tag++) {
			struct request *rq = tags->static_rqs[tag];

			if (!test_bit(tag, tags->bitmap) || !blk_mq_request_started(rq))
				continue;
			if (!fn(rq, priv))
				return;
		}
	}
}

void blk_mq_tagset_busy_iter(struct blk_mq_tag_set *tagset, busy_tag_iter_fn *fn, void *priv)
{
	side_blk_tagset_iter(tagset, fn, priv);
}

static bool side_blk_count_completed(struct request *rq, void *data)
{
	if (blk_mq_request_completed(rq))
		(*(unsigned int *)data)++;
	return true;
}

static bool side_blk_none_completed(void *set)
{
	unsigned int count = 0;

	side_blk_tagset_iter(set, side_blk_count_completed, &count);
	return !count;
}

/* Waits until no request of the set is completed but not yet ended (Linux polls every 5 ms); bounded. */
void blk_mq_tagset_wait_completed_request(struct blk_mq_tag_set *tagset)
{
	if (!side_wait_cond_ns(side_blk_none_completed, tagset, SIDE_BLK_WAIT_NS))
		side_fault(SIDE_FAULT_HUNG, SIDE_CALLER, "completed requests of tag set %px not ended in %llu s", tagset,
			   SIDE_BLK_WAIT_NS / NSEC_PER_SEC);
}
