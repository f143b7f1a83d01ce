// SPDX-License-Identifier: GPL-2.0-only
/*
 * Queue limits (block/blk-settings.c): the defaults a queue starts with, and the setters a driver narrows them
 * with. The request builder (block_submit.c) splits and aligns by these limits as bio_split_to_limits would.
 */
#include <linux/backing-dev-defs.h>
#include <linux/blkdev.h>
#include <linux/gcd.h>
#include <linux/pagemap.h>

#include "blk.h"
#include "kapi.h"

void side_blk_set_default_limits(struct queue_limits *lim)
{
	memset(lim, 0, sizeof(*lim));
	lim->max_segments = BLK_MAX_SEGMENTS;
	lim->max_discard_segments = 1;
	lim->max_integrity_segments = 0;
	lim->seg_boundary_mask = BLK_SEG_BOUNDARY_MASK;
	lim->virt_boundary_mask = 0;
	lim->max_segment_size = BLK_MAX_SEGMENT_SIZE;
	lim->max_sectors = lim->max_hw_sectors = BLK_SAFE_MAX_SECTORS;
	lim->max_dev_sectors = 0;
	lim->chunk_sectors = 0;
	lim->logical_block_size = lim->physical_block_size = lim->io_min = 512;
	lim->alignment_offset = 0;
	lim->io_opt = 0;
	lim->misaligned = 0;
	lim->zoned = BLK_ZONED_NONE;
	lim->zone_write_granularity = 0;
	lim->dma_alignment = 511;
}

void blk_queue_max_hw_sectors(struct request_queue *q, unsigned int max_hw_sectors)
{
	struct queue_limits *lim = &q->limits;
	unsigned int lbs_sectors = lim->logical_block_size >> SECTOR_SHIFT;
	unsigned int max_sectors;

	if ((max_hw_sectors << 9) < PAGE_SIZE) {
		max_hw_sectors = 1 << (PAGE_SHIFT - 9);
		pr_info("%s: set to minimum %u\n", __func__, max_hw_sectors);
	}
	max_hw_sectors = round_down(max_hw_sectors, lbs_sectors);
	lim->max_hw_sectors = max_hw_sectors;
	max_sectors = min_not_zero(max_hw_sectors, lim->max_dev_sectors);
	max_sectors = min_t(unsigned int, max_sectors, BLK_DEF_MAX_SECTORS);
	lim->max_sectors = round_down(max_sectors, lbs_sectors);
}

void blk_queue_max_segments(struct request_queue *q, unsigned short max_segments)
{
	if (!max_segments) {
		max_segments = 1;
		pr_info("%s: set to minimum %u\n", __func__, max_segments);
	}
	q->limits.max_segments = max_segments;
}

void blk_queue_max_discard_segments(struct request_queue *q, unsigned short max_segments)
{
	q->limits.max_discard_segments = max_segments;
}

void blk_queue_max_segment_size(struct request_queue *q, unsigned int max_size)
{
	if (max_size < PAGE_SIZE) {
		max_size = PAGE_SIZE;
		pr_info("%s: set to minimum %u\n", __func__, max_size);
	}
	/* A segment must not cross the boundary mask: a larger segment size could never be used. */
	if (q->limits.seg_boundary_mask < max_size - 1)
		pr_warn("%s: segment size %u exceeds the boundary mask %#lx\n", __func__, max_size,
			q->limits.seg_boundary_mask);
	q->limits.max_segment_size = max_size;
}

void blk_queue_max_discard_sectors(struct request_queue *q, unsigned int max_discard_sectors)
{
	q->limits.max_hw_discard_sectors = max_discard_sectors;
	q->limits.max_discard_sectors = max_discard_sectors;
}

void blk_queue_max_secure_erase_sectors(struct request_queue *q, unsigned int max_sectors)
{
	q->limits.max_secure_erase_sectors = max_sectors;
}

void blk_queue_max_write_zeroes_sectors(struct request_queue *q, unsigned int max_write_zeroes_sectors)
{
	q->limits.max_write_zeroes_sectors = max_write_zeroes_sectors;
}

/* The physical block, minimum and optimal I/O sizes never drop below the logical block size. */
void blk_queue_logical_block_size(struct request_queue *q, unsigned int size)
{
	struct queue_limits *lim = &q->limits;

	lim->logical_block_size = size;
	if (lim->physical_block_size < size)
		lim->physical_block_size = size;
	if (lim->io_min < lim->physical_block_size)
		lim->io_min = lim->physical_block_size;
	lim->max_hw_sectors = round_down(lim->max_hw_sectors, size >> SECTOR_SHIFT);
	lim->max_sectors = round_down(lim->max_sectors, size >> SECTOR_SHIFT);
}

void blk_queue_physical_block_size(struct request_queue *q, unsigned int size)
{
	struct queue_limits *lim = &q->limits;

	lim->physical_block_size = size;
	if (lim->physical_block_size < lim->logical_block_size)
		lim->physical_block_size = lim->logical_block_size;
	if (lim->io_min < lim->physical_block_size)
		lim->io_min = lim->physical_block_size;
}

void blk_queue_alignment_offset(struct request_queue *q, unsigned int offset)
{
	q->limits.alignment_offset = offset & (q->limits.physical_block_size - 1);
	q->limits.misaligned = 0;
}

void blk_queue_io_min(struct request_queue *q, unsigned int min)
{
	struct queue_limits *lim = &q->limits;

	lim->io_min = min;
	if (lim->io_min < lim->logical_block_size)
		lim->io_min = lim->logical_block_size;
	if (lim->io_min < lim->physical_block_size)
		lim->io_min = lim->physical_block_size;
}

void blk_queue_io_opt(struct request_queue *q, unsigned int opt)
{
	q->limits.io_opt = opt;
}

/* A volatile write cache makes flushes meaningful; FUA only counts with one (blk_queue_write_cache). */
void blk_queue_write_cache(struct request_queue *q, bool wc, bool fua)
{
	if (wc)
		set_bit(QUEUE_FLAG_WC, &q->queue_flags);
	else
		clear_bit(QUEUE_FLAG_WC, &q->queue_flags);
	if (fua)
		set_bit(QUEUE_FLAG_FUA, &q->queue_flags);
	else
		clear_bit(QUEUE_FLAG_FUA, &q->queue_flags);
}

void blk_queue_flag_set(unsigned int flag, struct request_queue *q)
{
	set_bit(flag, &q->queue_flags);
}

void blk_queue_flag_clear(unsigned int flag, struct request_queue *q)
{
	clear_bit(flag, &q->queue_flags);
}

void blk_queue_chunk_sectors(struct request_queue *q, unsigned int chunk_sectors)
{
	q->limits.chunk_sectors = chunk_sectors;
}

void blk_queue_dma_alignment(struct request_queue *q, int mask)
{
	q->limits.dma_alignment = mask;
}

/* Segments may not straddle the mask's boundary except at their ends; such a device merges any contiguous range
 * into one segment (max_segment_size unlimited), as Linux sets it. */
void blk_queue_virt_boundary(struct request_queue *q, unsigned long mask)
{
	q->limits.virt_boundary_mask = mask;
	if (mask)
		q->limits.max_segment_size = UINT_MAX;
}

void disk_update_readahead(struct gendisk *disk)
{
	struct request_queue *q = disk->queue;

	disk->bdi->ra_pages = max(queue_io_opt(q) * 2 / PAGE_SIZE, VM_READAHEAD_PAGES);
	disk->bdi->io_pages = queue_max_sectors(q) >> (PAGE_SHIFT - 9);
}

/* No integrity profile is ever registered in a domain (blk_integrity_register is not offered), so there is
 * never one to take down; the checks stay Linux's. */
void blk_integrity_unregister(struct gendisk *disk)
{
	struct blk_integrity *bi = &disk->queue->integrity;

	if (!bi->profile)
		return;
	blk_queue_flag_clear(QUEUE_FLAG_STABLE_WRITES, disk->queue);
	memset(bi, 0, sizeof(*bi));
}
