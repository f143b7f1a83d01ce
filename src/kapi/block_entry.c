// SPDX-License-Identifier: GPL-2.0-only
/*
 * The block entry points side calls (side_host.h, "block devices"): what a disk is, a request checked as
 * submit_bio_noacct checks a bio (the disk is live, the range inside its capacity, sizes and buffers aligned to
 * the logical block size, no write to a read-only disk, no discard where the disk has none) and then started
 * (block_submit.c), a synchronous form of it, and arena buffers for the data.
 */
#include <linux/blk-mq.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "blk.h"
#include "block_submit.h"
#include "kapi.h"

/* Where the arena's pages start: offsets are relative to its first page. */
static unsigned long side_arena_va(u64 offset, u64 len)
{
	struct side_memory_layout l;

	side_host_memory_layout(&l);
	if (offset > (l.nr_pages << PAGE_SHIFT) || len > (l.nr_pages << PAGE_SHIFT) - offset)
		return 0;
	return (unsigned long)phys_to_virt((l.first_pfn << PAGE_SHIFT) + offset);
}

bool side_blk_in_arena(const void *p, u64 len)
{
	struct side_memory_layout l;
	unsigned long start;

	side_host_memory_layout(&l);
	start = (unsigned long)phys_to_virt(l.first_pfn << PAGE_SHIFT);
	return (unsigned long)p >= start && len <= (l.nr_pages << PAGE_SHIFT) &&
	       (unsigned long)p - start <= (l.nr_pages << PAGE_SHIFT) - len;
}

int side_kapi_block_info(side_u32 index, struct side_block_info *out)
{
	struct gendisk *disk = side_disk_get(index);
	struct request_queue *q;

	if (!disk)
		return -ENODEV;
	q = disk->queue;
	memset(out, 0, sizeof(*out));
	out->capacity = get_capacity(disk);
	out->logical_block_size = q->limits.logical_block_size;
	out->physical_block_size = q->limits.physical_block_size;
	out->max_sectors = q->limits.max_sectors;
	out->max_hw_sectors = q->limits.max_hw_sectors;
	out->max_segments = q->limits.max_segments;
	out->max_segment_size = q->limits.max_segment_size;
	out->max_discard_sectors = q->limits.max_discard_sectors;
	out->queue_depth = q->tag_set->queue_depth;
	out->nr_hw_queues = q->nr_hw_queues;
	out->flags = (test_bit(QUEUE_FLAG_WC, &q->queue_flags) ? SIDE_BLOCK_INFO_WRITE_CACHE : 0) |
		     (test_bit(QUEUE_FLAG_FUA, &q->queue_flags) ? SIDE_BLOCK_INFO_FUA : 0) |
		     (get_disk_ro(disk) ? SIDE_BLOCK_INFO_READ_ONLY : 0) |
		     (q->limits.max_discard_sectors ? SIDE_BLOCK_INFO_DISCARD : 0);
	out->major = disk->major;
	out->first_minor = disk->first_minor;
	strscpy(out->name, disk->disk_name, sizeof(out->name));
	out->requests = atomic64_read(&side_blk_queue(q)->requests);
	out->segments = atomic64_read(&side_blk_queue(q)->segments);
	return 0;
}

static int side_check_op(struct gendisk *disk, unsigned int op, u64 sector, unsigned int nr_sectors)
{
	unsigned int lbs = disk->queue->limits.logical_block_size >> SECTOR_SHIFT;

	if (op > SIDE_BLOCK_DISCARD)
		return -EINVAL;
	if (op == SIDE_BLOCK_FLUSH)
		return nr_sectors ? -EINVAL : 0;
	if (!nr_sectors || sector > get_capacity(disk) || nr_sectors > get_capacity(disk) - sector)
		return -EINVAL;
	if ((sector | nr_sectors) & (lbs - 1))
		return -EINVAL;
	if (op != SIDE_BLOCK_READ && get_disk_ro(disk))
		return -EROFS;
	if (op == SIDE_BLOCK_DISCARD && !disk->queue->limits.max_discard_sectors)
		return -EOPNOTSUPP;
	return 0;
}

/* Copies the pieces, each turned into a kernel address after checking it lies in the arena, block-aligned. */
static int side_copy_segs(struct side_blk_sub *sub, const struct side_block_seg *segs, unsigned int nr_segs)
{
	unsigned int lbs = sub->disk->queue->limits.logical_block_size, i;
	u64 total = 0;

	if (nr_segs > SIDE_BLOCK_MAX_SEGS)
		return -EINVAL;
	sub->segs = kmemdup(segs, nr_segs * sizeof(*segs), GFP_KERNEL);
	if (nr_segs && !sub->segs)
		return -ENOMEM;
	sub->nr_segs = nr_segs;
	for (i = 0; i < nr_segs; i++) {
		struct side_block_seg *p = &sub->segs[i];
		unsigned long va = side_arena_va(p->offset, p->len);

		if (!va || !p->len || ((p->offset | p->len) & (lbs - 1)))
			return -EINVAL;
		p->offset = va;
		total += p->len;
	}
	if ((sub->flags & SIDE_BLOCK_OP_MASK) > SIDE_BLOCK_WRITE)
		return nr_segs ? -EINVAL : 0;
	return total == ((u64)sub->nr_sectors << SECTOR_SHIFT) ? 0 : -EINVAL;
}

static const blk_opf_t side_block_opf[] = {
	[SIDE_BLOCK_READ] = REQ_OP_READ,
	[SIDE_BLOCK_WRITE] = REQ_OP_WRITE | REQ_SYNC,
	[SIDE_BLOCK_FLUSH] = REQ_OP_FLUSH,
	[SIDE_BLOCK_DISCARD] = REQ_OP_DISCARD,
};

int side_kapi_block_submit(side_u32 index, side_u32 op, side_u64 sector, side_u32 nr_sectors,
			   const struct side_block_seg *segs, side_u32 nr_segs, side_block_done_fn done,
			   side_u64 cookie)
{
	struct gendisk *disk = side_disk_get(index);
	struct side_blk_sub *sub;
	int err;

	if (!disk)
		return -ENODEV;
	if (!done || (op & ~(SIDE_BLOCK_OP_MASK | SIDE_BLOCK_FUA | SIDE_BLOCK_PREFLUSH | SIDE_BLOCK_NOWAIT)))
		return -EINVAL;
	err = side_check_op(disk, op & SIDE_BLOCK_OP_MASK, sector, nr_sectors);
	if (err)
		return err;
	sub = kzalloc(sizeof(*sub), GFP_KERNEL);
	if (!sub)
		return -ENOMEM;
	sub->disk = disk;
	sub->flags = op;
	sub->sector = sector;
	sub->nr_sectors = nr_sectors;
	sub->data_opf = side_block_opf[op & SIDE_BLOCK_OP_MASK];
	if (op & SIDE_BLOCK_NOWAIT)
		sub->data_opf |= REQ_NOWAIT;
	sub->done = done;
	sub->cookie = cookie;
	err = side_copy_segs(sub, segs, nr_segs);
	if (err) {
		kfree(sub->segs);
		kfree(sub);
		return err;
	}
	side_sub_start(sub);
	return 0;
}

struct side_sync_sub {
	int status;
	bool done;
};

static void side_sync_done(side_u64 cookie, int status)
{
	struct side_sync_sub *w = (struct side_sync_sub *)(unsigned long)cookie;

	w->status = status;
	smp_store_release(&w->done, true);
}

/* Spins a little first: a fast device answers in tens of microseconds, and a sleep costs more than that here. */
int side_kapi_block_rw(side_u32 index, side_u32 op, side_u64 sector, side_u32 nr_sectors,
		       const struct side_block_seg *segs, side_u32 nr_segs)
{
	struct side_sync_sub w = { 0, false };
	u64 start = side_host_real_clock_ns();
	int err = side_kapi_block_submit(index, op, sector, nr_sectors, segs, nr_segs, side_sync_done,
					 (side_u64)(unsigned long)&w);

	if (err)
		return err;
	while (!smp_load_acquire(&w.done)) {
		u64 now = side_host_real_clock_ns();

		if (now - start > SIDE_BLK_WAIT_NS)
			side_fault(SIDE_FAULT_HUNG, 0, "block request to disk %u not completed in %llu s", index,
				   SIDE_BLK_WAIT_NS / NSEC_PER_SEC);
		if (now - start < 50 * NSEC_PER_USEC)
			side_host_yield();
		else
			side_host_real_sleep_ns(10 * NSEC_PER_USEC);
	}
	return w.status;
}

int side_kapi_block_buffer_alloc(side_u32 order, side_u64 *offset)
{
	struct side_memory_layout l;
	struct page *page;

	if (order >= MAX_ORDER)
		return -EINVAL;
	page = alloc_pages(GFP_KERNEL | __GFP_ZERO, order);
	if (!page)
		return -ENOMEM;
	side_host_memory_layout(&l);
	*offset = page_to_phys(page) - (l.first_pfn << PAGE_SHIFT);
	return 0;
}

void side_kapi_block_buffer_free(side_u64 offset, side_u32 order)
{
	unsigned long va = side_arena_va(offset, PAGE_SIZE << order);

	if (va)
		__free_pages(virt_to_page((void *)va), order);
}
