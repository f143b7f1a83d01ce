// SPDX-License-Identifier: GPL-2.0-only
/*
 * Bios and a request's data (block/bio.c, blk-merge.c, blk-map.c, blk-core.c): the physical segments a request's
 * bios make within the queue's segment limits, the scatterlist a driver gets from blk_rq_map_sg (physically
 * contiguous pieces merged up to the segment size, never across the segment boundary), mapping a kernel buffer
 * into a passthrough request, and ending a request's bios with its status.
 */
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>

#include "blk.h"
#include "kapi.h"

static const int side_blk_errno[] = {
	[BLK_STS_OK] = 0,
	[BLK_STS_NOTSUPP] = -EOPNOTSUPP,
	[BLK_STS_TIMEOUT] = -ETIMEDOUT,
	[BLK_STS_NOSPC] = -ENOSPC,
	[BLK_STS_TRANSPORT] = -ENOLINK,
	[BLK_STS_TARGET] = -EREMOTEIO,
	[BLK_STS_NEXUS] = -EBADE,
	[BLK_STS_MEDIUM] = -ENODATA,
	[BLK_STS_PROTECTION] = -EILSEQ,
	[BLK_STS_RESOURCE] = -ENOMEM,
	[BLK_STS_DEV_RESOURCE] = -EBUSY,
	[BLK_STS_AGAIN] = -EAGAIN,
	[BLK_STS_OFFLINE] = -ENODEV,
	[BLK_STS_DM_REQUEUE] = -EREMCHG,
	[BLK_STS_ZONE_RESOURCE] = -ETOOMANYREFS,
	[BLK_STS_ZONE_OPEN_RESOURCE] = -ETOOMANYREFS,
	[BLK_STS_ZONE_ACTIVE_RESOURCE] = -EOVERFLOW,
	[BLK_STS_IOERR] = -EIO,
};

int blk_status_to_errno(blk_status_t status)
{
	unsigned int idx = (__force unsigned int)status;

	if (idx >= ARRAY_SIZE(side_blk_errno) || (idx && !side_blk_errno[idx]))
		return -EIO;
	return side_blk_errno[idx];
}

void side_bio_endio(struct bio *bio)
{
	if (bio->bi_end_io)
		bio->bi_end_io(bio);
}

/* Every bio of the request ends with `error` (blk_update_request over the whole request). */
void side_blk_update_request(struct request *rq, blk_status_t error)
{
	struct bio *bio = rq->bio;

	while (bio) {
		struct bio *next = bio->bi_next;

		bio->bi_next = NULL;
		bio->bi_status = error;
		side_bio_endio(bio);
		bio = next;
	}
	rq->bio = rq->biotail = NULL;
	rq->__data_len = 0;
}

/* The longest segment that may start at bus address `addr`: the segment size, cut at the boundary mask. */
unsigned int side_blk_max_segment(struct request_queue *q, phys_addr_t addr)
{
	unsigned long mask = q->limits.seg_boundary_mask;
	unsigned long to_boundary = mask - (addr & mask);

	return min_t(unsigned long, to_boundary, q->limits.max_segment_size - 1) + 1;
}

/* Segments one bvec makes (bvec_split_segs without a cap). */
static unsigned int side_bvec_segments(struct request_queue *q, const struct bio_vec *bv)
{
	phys_addr_t addr = page_to_phys(bv->bv_page) + bv->bv_offset;
	unsigned int left = bv->bv_len, n = 0;

	while (left) {
		unsigned int len = min(left, side_blk_max_segment(q, addr));

		addr += len;
		left -= len;
		n++;
	}
	return n;
}

unsigned int side_blk_count_segments(struct request_queue *q, struct bio *bio)
{
	unsigned int i, n = 0;

	for (i = 0; i < bio->bi_vcnt; i++)
		n += side_bvec_segments(q, &bio->bi_io_vec[i]);
	return n;
}

static struct scatterlist *side_next_sg(struct scatterlist **sg, struct scatterlist *sglist)
{
	if (!*sg)
		return *sg = sglist;
	sg_unmark_end(*sg);
	return *sg = sg_next(*sg);
}

/* Adds [addr, addr+len) to the list: onto the last entry when physically contiguous and the merged segment stays
 * within the limits (biovec_phys_mergeable), else as new entries of at most one segment each. */
static int side_map_range(struct request_queue *q, phys_addr_t addr, unsigned int len, struct scatterlist *sglist,
			  struct scatterlist **sg)
{
	int nsegs = 0;

	if (*sg) {
		phys_addr_t end = sg_phys(*sg) + (*sg)->length;
		phys_addr_t start = sg_phys(*sg);

		if (end == addr && (*sg)->length + len <= side_blk_max_segment(q, start)) {
			(*sg)->length += len;
			return 0;
		}
	}
	while (len) {
		unsigned int seg = min(len, side_blk_max_segment(q, addr));
		struct scatterlist *s = side_next_sg(sg, sglist);

		sg_set_page(s, pfn_to_page(PHYS_PFN(addr)), seg, offset_in_page(addr));
		addr += seg;
		len -= seg;
		nsegs++;
	}
	return nsegs;
}

int __blk_rq_map_sg(struct request_queue *q, struct request *rq, struct scatterlist *sglist,
		    struct scatterlist **last_sg)
{
	struct bio *bio;
	int nsegs = 0;

	if (rq->rq_flags & RQF_SPECIAL_PAYLOAD) {
		struct bio_vec *bv = &rq->special_vec;

		nsegs = side_map_range(q, page_to_phys(bv->bv_page) + bv->bv_offset, bv->bv_len, sglist, last_sg);
	} else {
		for (bio = rq->bio; bio; bio = bio->bi_next) {
			unsigned int i;

			for (i = 0; i < bio->bi_vcnt; i++) {
				struct bio_vec *bv = &bio->bi_io_vec[i];

				nsegs += side_map_range(q, page_to_phys(bv->bv_page) + bv->bv_offset, bv->bv_len,
							sglist, last_sg);
			}
		}
	}
	if (*last_sg)
		sg_mark_end(*last_sg);
	if (nsegs > rq->nr_phys_segments && !(rq->rq_flags & RQF_SPECIAL_PAYLOAD))
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "blk_rq_map_sg made %d segments of a request counted with %u",
			   nsegs, rq->nr_phys_segments);
	return nsegs;
}

static void side_bio_free_end_io(struct bio *bio)
{
	kfree(bio->bi_io_vec);
	kfree(bio);
}

/* A bio of bvecs over kernel memory [addr, addr+len), one bvec per physically contiguous run of pages. */
struct bio *side_bio_map_kernel(void *addr, unsigned int len, blk_opf_t opf)
{
	unsigned int pages = DIV_ROUND_UP(offset_in_page(addr) + len, PAGE_SIZE);
	struct bio *bio = kzalloc(sizeof(*bio), GFP_KERNEL);
	struct bio_vec *bv = kcalloc(pages, sizeof(*bv), GFP_KERNEL);
	unsigned long p = (unsigned long)addr;

	if (!bio || !bv) {
		kfree(bio);
		kfree(bv);
		return NULL;
	}
	bio->bi_opf = opf;
	bio->bi_io_vec = bv;
	bio->bi_max_vecs = pages;
	atomic_set(&bio->__bi_cnt, 1);
	while (len) {
		unsigned int chunk = min_t(unsigned int, len, PAGE_SIZE - offset_in_page(p));
		struct bio_vec *last = bio->bi_vcnt ? &bv[bio->bi_vcnt - 1] : NULL;

		if (last && page_to_phys(last->bv_page) + last->bv_offset + last->bv_len == virt_to_phys((void *)p))
			last->bv_len += chunk;
		else
			bv[bio->bi_vcnt++] = (struct bio_vec){ virt_to_page((void *)p), chunk, offset_in_page(p) };
		bio->bi_iter.bi_size += chunk;
		p += chunk;
		len -= chunk;
	}
	return bio;
}

/* bio_copy_kern(): a buffer the device cannot reach (outside the arena: a stack buffer, as nvme's timestamp) or
 * not aligned for it travels in a bounce buffer of the arena, filled from it for a write and copied back into it
 * when a read ends. */
struct side_bio_bounce {
	void *kbuf, *bounce;
	unsigned int len;
	bool reading;
};

static void side_bio_bounce_end_io(struct bio *bio)
{
	struct side_bio_bounce *b = bio->bi_private;

	if (b->reading)
		memcpy(b->kbuf, b->bounce, b->len);
	kfree(b->bounce);
	kfree(b);
	side_bio_free_end_io(bio);
}

static struct bio *side_bio_copy_kern(void *kbuf, unsigned int len, blk_opf_t opf, gfp_t gfp)
{
	struct side_bio_bounce *b = kzalloc(sizeof(*b), gfp);
	struct bio *bio = NULL;

	if (b)
		b->bounce = kmalloc(len, gfp | __GFP_ZERO);
	if (b && b->bounce)
		bio = side_bio_map_kernel(b->bounce, len, opf);
	if (!bio) {
		if (b)
			kfree(b->bounce);
		kfree(b);
		return NULL;
	}
	b->kbuf = kbuf;
	b->len = len;
	b->reading = !op_is_write(opf);
	if (!b->reading)
		memcpy(b->bounce, kbuf, len);
	bio->bi_private = b;
	bio->bi_end_io = side_bio_bounce_end_io;
	return bio;
}

static void side_rq_append_bio(struct request *rq, struct bio *bio, unsigned int len, unsigned int nsegs)
{
	if (rq->biotail)
		rq->biotail->bi_next = bio;
	else
		rq->bio = bio;
	rq->biotail = bio;
	rq->__data_len += len;
	rq->nr_phys_segments += nsegs;
}

/* Passthrough data in a kernel buffer: one bio, its segments within the queue's limits (blk_rq_map_kern). */
int blk_rq_map_kern(struct request_queue *q, struct request *rq, void *kbuf, unsigned int len, gfp_t gfp_mask)
{
	bool reachable = side_blk_in_arena(kbuf, len) && blk_rq_aligned(q, (unsigned long)kbuf, len);
	struct bio *bio;
	unsigned int nsegs;

	if (len > (queue_max_hw_sectors(q) << SECTOR_SHIFT) || !len || !kbuf)
		return -EINVAL;
	if (reachable) {
		bio = side_bio_map_kernel(kbuf, len, rq->cmd_flags);
		if (bio)
			bio->bi_end_io = side_bio_free_end_io;
	} else {
		bio = side_bio_copy_kern(kbuf, len, rq->cmd_flags, gfp_mask);
	}
	if (!bio)
		return -ENOMEM;
	nsegs = side_blk_count_segments(q, bio);
	if (rq->nr_phys_segments + nsegs > queue_max_segments(q)) {
		bio->bi_end_io(bio);
		return -EINVAL;
	}
	side_rq_append_bio(rq, bio, len, nsegs);
	return 0;
}
