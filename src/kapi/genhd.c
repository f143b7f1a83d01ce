// SPDX-License-Identifier: GPL-2.0-only
/*
 * Disks (block/genhd.c): block majors, a disk allocated with its blk-mq queue, its capacity and read-only state,
 * add_disk and del_gendisk. A disk added is entered in the domain's disk table, where side's own requests
 * (block_submit.c) find it by index; the disk goes to the host whole, so nothing scans it for partitions here.
 */
#include <linux/blk-mq.h>
#include <linux/backing-dev-defs.h>
#include <linux/blkdev.h>
#include <linux/major.h>
#include <linux/slab.h>

#include "blk.h"
#include "kapi.h"

/* Majors handed out dynamically, highest first (block/genhd.c: 254 down to 234). */
#define SIDE_DYN_MAJOR_HIGH 254
#define SIDE_DYN_MAJOR_LOW 234
#define SIDE_MAX_MAJORS 512

static DEFINE_SPINLOCK(side_blk_lock); /* the major names and the disk table */
static const char *side_major_names[SIDE_MAX_MAJORS];
static struct gendisk *side_disks[SIDE_MAX_DISKS];

static int side_find_free_major(void)
{
	int major;

	for (major = SIDE_DYN_MAJOR_HIGH; major >= SIDE_DYN_MAJOR_LOW; major--) {
		if (!side_major_names[major])
			return major;
	}
	return -EBUSY;
}

int __register_blkdev(unsigned int major, const char *name, void (*probe)(dev_t devt))
{
	int ret = 0;

	if (major >= SIDE_MAX_MAJORS) {
		pr_err("%s: major requested (%u) is greater than the maximum (%u) for %s\n", __func__, major,
		       SIDE_MAX_MAJORS - 1, name);
		return -EINVAL;
	}
	spin_lock(&side_blk_lock);
	if (major == 0) {
		ret = side_find_free_major();
		if (ret < 0) {
			pr_err("%s: failed to get major for %s\n", __func__, name);
			goto out;
		}
		major = ret;
	} else if (side_major_names[major]) {
		pr_err("%s: cannot get major %u for %s\n", __func__, major, name);
		ret = -EBUSY;
		goto out;
	}
	side_major_names[major] = name;
out:
	spin_unlock(&side_blk_lock);
	return ret;
}

void unregister_blkdev(unsigned int major, const char *name)
{
	spin_lock(&side_blk_lock);
	if (major >= SIDE_MAX_MAJORS || !side_major_names[major] || strcmp(side_major_names[major], name))
		pr_warn("%s: major %u is not registered as %s (from %pS)\n", __func__, major, name, (void *)SIDE_CALLER);
	else
		side_major_names[major] = NULL;
	spin_unlock(&side_blk_lock);
}

struct gendisk *__blk_mq_alloc_disk(struct blk_mq_tag_set *set, void *queuedata, struct lock_class_key *lkclass)
{
	struct request_queue *q = side_blk_alloc_queue(set, queuedata);
	struct side_blk_queue *sq;
	struct gendisk *disk;

	if (!q)
		return ERR_PTR(-ENOMEM);
	sq = side_blk_queue(q);
	disk = kzalloc(sizeof(*disk), GFP_KERNEL);
	if (!disk) {
		side_blk_free_queue(q);
		return ERR_PTR(-ENOMEM);
	}
	/* The disk's read-ahead and I/O sizes (disk_update_readahead); no writeback runs in a domain. */
	disk->bdi = kzalloc(sizeof(*disk->bdi), GFP_KERNEL);
	if (!disk->bdi) {
		kfree(disk);
		side_blk_free_queue(q);
		return ERR_PTR(-ENOMEM);
	}
	disk->queue = q;
	disk->part0 = &sq->part0;
	disk->node_id = set->numa_node;
	mutex_init(&disk->open_mutex);
	sq->part0.bd_disk = disk;
	sq->part0.bd_queue = q;
	spin_lock_init(&sq->part0.bd_size_lock);
	device_initialize(&sq->part0.bd_device);
	set_bit(GD_OWNS_QUEUE, &disk->state);
	q->disk = disk;
	return disk;
}

void set_capacity(struct gendisk *disk, sector_t sectors)
{
	WRITE_ONCE(disk->part0->bd_nr_sectors, sectors);
}

bool set_capacity_and_notify(struct gendisk *disk, sector_t size)
{
	sector_t capacity = get_capacity(disk);

	set_capacity(disk, size);
	if (size == capacity || !test_bit(GD_ADDED, &disk->state) || (disk->flags & GENHD_FL_HIDDEN))
		return false;
	pr_info("%s: detected capacity change from %lld to %lld\n", disk->disk_name, (long long)capacity,
		(long long)size);
	return capacity && size;
}

void set_disk_ro(struct gendisk *disk, bool read_only)
{
	if (read_only)
		set_bit(GD_READ_ONLY, &disk->state);
	else
		clear_bit(GD_READ_ONLY, &disk->state);
}

static int side_disk_enter(struct gendisk *disk)
{
	int i, index = -ENOSPC;

	spin_lock(&side_blk_lock);
	for (i = 0; i < SIDE_MAX_DISKS; i++) {
		if (!side_disks[i]) {
			side_disks[i] = disk;
			index = i;
			break;
		}
	}
	spin_unlock(&side_blk_lock);
	return index;
}

int device_add_disk(struct device *parent, struct gendisk *disk, const struct attribute_group **groups)
{
	struct side_blk_queue *sq = side_blk_queue(disk->queue);
	int index;

	if (test_bit(GD_ADDED, &disk->state))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "device_add_disk of %s, which was added already",
			   disk->disk_name);
	if (disk->minors > DISK_MAX_PARTS) {
		pr_err("block: can't allocate more than %d partitions\n", DISK_MAX_PARTS);
		disk->minors = DISK_MAX_PARTS;
	}
	if (disk->first_minor + disk->minors > MINORMASK + 1)
		return -EINVAL;
	index = side_disk_enter(disk);
	if (index < 0)
		return index;
	sq->index = index;
	disk->part0->bd_device.parent = parent;
	disk->part0->bd_dev = MKDEV(disk->major, disk->first_minor);
	set_bit(GD_ADDED, &disk->state);
	return 0;
}

struct gendisk *side_disk_get(unsigned int index)
{
	struct gendisk *disk = NULL;

	spin_lock(&side_blk_lock);
	if (index < SIDE_MAX_DISKS)
		disk = side_disks[index];
	spin_unlock(&side_blk_lock);
	/* A disk marked dead (blk_mark_disk_dead) takes no new I/O: it is no disk any more (-ENODEV). */
	return disk && !test_bit(GD_DEAD, &disk->state) ? disk : NULL;
}

/* The disk leaves the table (no new request finds it), its queue drains and stops for good: hardware contexts
 * exit before the driver frees its tag set, as in Linux. */
void del_gendisk(struct gendisk *disk)
{
	struct side_blk_queue *sq = side_blk_queue(disk->queue);

	if (!test_and_clear_bit(GD_ADDED, &disk->state))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "del_gendisk of %s, which is not added",
			   disk->disk_name);
	spin_lock(&side_blk_lock);
	if (sq->index >= 0 && side_disks[sq->index] == disk)
		side_disks[sq->index] = NULL;
	spin_unlock(&side_blk_lock);
	sq->index = -1;
	set_bit(GD_DEAD, &disk->state);
	blk_mq_freeze_queue(disk->queue);
	side_blk_exit_queue(disk->queue);
	blk_mq_unfreeze_queue(disk->queue);
}

void put_disk(struct gendisk *disk)
{
	if (!disk)
		return;
	if (test_bit(GD_ADDED, &disk->state))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "put_disk of %s, which is still added", disk->disk_name);
	side_blk_free_queue(disk->queue);
	kfree(disk->bdi);
	kfree(disk);
}

/* The disk is gone for good (its device died): new I/O fails, and the queue starts draining. */
void blk_mark_disk_dead(struct gendisk *disk)
{
	set_bit(GD_DEAD, &disk->state);
	blk_freeze_queue_start(disk->queue);
}
