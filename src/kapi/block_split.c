// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cutting side's request into the driver's requests (block/blk-merge.c: bio_split_rw, get_max_io_size,
 * bio_split_discard): a request ends where the next segment would exceed max_segments, where its size reaches the
 * largest I/O that starts at its sector (max_sectors, ending on a physical block boundary where it can), or at the
 * end of the data; a segment is a physically contiguous piece within the segment size and boundary. Each request
 * gets one bio whose bvecs are its segments.
 */
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/log2.h>

#include "blk.h"
#include "block_submit.h"
#include "kapi.h"

struct side_split {
	struct side_blk_sub *sub;
	struct request_queue *q;
	unsigned int seg;     /* the piece the cursor is in */
	unsigned int seg_off; /* bytes of it already issued */
	sector_t sector;
	u64 left; /* bytes not yet issued */
};

/* The most sectors one request may have when it starts at `sector` (get_max_io_size). */
static unsigned int side_max_io_sectors(const struct queue_limits *lim, sector_t sector)
{
	unsigned int pbs = lim->physical_block_size >> SECTOR_SHIFT, lbs = lim->logical_block_size >> SECTOR_SHIFT;
	unsigned int max = lim->max_sectors, start, end;

	if (lim->chunk_sectors) {
		unsigned int in_chunk = is_power_of_2(lim->chunk_sectors) ? sector & (lim->chunk_sectors - 1) :
									     do_div(sector, lim->chunk_sectors);

		max = min(max, lim->chunk_sectors - in_chunk);
	}
	start = sector & (pbs - 1);
	end = (start + max) & ~(pbs - 1);
	if (end > start)
		return end - start;
	return max & ~(lbs - 1);
}

/* Walks the segments of the next request from the cursor: counts them, and fills `bv` when given. Returns the
 * request's bytes; *nsegs its segment count. The cursor moves only when `advance`. */
static u64 side_walk_segments(struct side_split *s, struct bio_vec *bv, unsigned int *nsegs, bool advance)
{
	const struct queue_limits *lim = &s->q->limits;
	u64 max_bytes = (u64)side_max_io_sectors(lim, s->sector) << SECTOR_SHIFT, bytes = 0;
	unsigned int seg = s->seg, off = s->seg_off, n = 0;

	while (bytes < max_bytes && bytes < s->left && n < lim->max_segments) {
		const struct side_block_seg *p = &s->sub->segs[seg];
		void *va = (void *)(unsigned long)(p->offset + off);
		phys_addr_t addr = virt_to_phys(va);
		u64 len = min3((u64)(p->len - off), max_bytes - bytes, (u64)side_blk_max_segment(s->q, addr));

		if (bv)
			bv[n] = (struct bio_vec){ virt_to_page(va), (unsigned int)len, offset_in_page(va) };
		n++;
		bytes += len;
		off += len;
		if (off == p->len) {
			seg++;
			off = 0;
		}
	}
	if (advance) {
		s->seg = seg;
		s->seg_off = off;
	}
	*nsegs = n;
	return bytes;
}

static int side_issue_rw(struct side_split *s)
{
	unsigned int nsegs, filled;
	u64 bytes = side_walk_segments(s, NULL, &nsegs, false);
	struct bio *bio = side_sub_new_bio(s->sub, s->sub->data_opf, s->sector, nsegs);

	if (!bio)
		return -ENOMEM;
	/* Pieces are whole logical blocks and segments at least a page: every cut is block-aligned. */
	WARN_ON(bytes & (s->q->limits.logical_block_size - 1));
	side_walk_segments(s, bio->bi_io_vec, &filled, true);
	bio->bi_vcnt = filled;
	bio->bi_iter.bi_size = bytes;
	s->sector += bytes >> SECTOR_SHIFT;
	s->left -= bytes;
	return side_sub_issue(s->sub, bio, filled);
}

/* A discard carries no data: cut by max_discard_sectors only, one range (segment) per request. */
static int side_issue_discard(struct side_split *s)
{
	const struct queue_limits *lim = &s->q->limits;
	unsigned int lbs = lim->logical_block_size >> SECTOR_SHIFT;
	u64 max = round_down(min_t(u64, lim->max_discard_sectors, UINT_MAX >> SECTOR_SHIFT), lbs);
	u64 bytes = min_t(u64, s->left, max << SECTOR_SHIFT);
	struct bio *bio = side_sub_new_bio(s->sub, s->sub->data_opf, s->sector, 0);

	if (!bio)
		return -ENOMEM;
	bio->bi_iter.bi_size = bytes;
	s->sector += bytes >> SECTOR_SHIFT;
	s->left -= bytes;
	return side_sub_issue(s->sub, bio, 1);
}

void side_sub_build_data(struct side_blk_sub *sub)
{
	struct side_split s = {
		.sub = sub,
		.q = sub->disk->queue,
		.sector = sub->sector,
		.left = (u64)sub->nr_sectors << SECTOR_SHIFT,
	};
	bool discard = (sub->flags & SIDE_BLOCK_OP_MASK) == SIDE_BLOCK_DISCARD;

	while (s.left) {
		int err = discard ? side_issue_discard(&s) : side_issue_rw(&s);

		if (err) {
			cmpxchg(&sub->status, 0, err);
			return;
		}
	}
}
