/* SPDX-License-Identifier: GPL-2.0-only */
/* One request of side's to a disk while it runs (block_submit.c, block_split.c, block_entry.c). */
#ifndef SIDE_KAPI_BLOCK_SUBMIT_H
#define SIDE_KAPI_BLOCK_SUBMIT_H

#include <linux/blk_types.h>
#include <linux/workqueue.h>

#include "side_host.h"

/* The phases of a request, in order (blk-flush.c's sequence); a request runs those its plan names. */
enum side_sub_phase { SIDE_SUB_PREFLUSH, SIDE_SUB_DATA, SIDE_SUB_POSTFLUSH, SIDE_SUB_END };

struct side_blk_sub {
	struct gendisk *disk;
	unsigned int flags; /* SIDE_BLOCK_* op and flags */
	blk_opf_t data_opf;
	sector_t sector;
	unsigned int nr_sectors;
	struct side_block_seg *segs; /* a copy, with kernel virtual addresses in `offset` */
	unsigned int nr_segs;
	unsigned int phases, phase;
	atomic_t pending; /* bios not ended, plus the builder's own while it builds */
	int status;       /* the first error */
	struct list_head plug;
	unsigned int plugged;
	struct work_struct work;      /* runs the next phase */
	struct work_struct done_work; /* reports a phase that had nothing in flight */
	side_block_done_fn done;
	side_u64 cookie;
};

void side_sub_start(struct side_blk_sub *sub);
int side_sub_issue(struct side_blk_sub *sub, struct bio *bio, unsigned int nsegs);
struct bio *side_sub_new_bio(struct side_blk_sub *sub, blk_opf_t opf, sector_t sector, unsigned int max_vecs);
/* Cuts the data phase into requests and issues them (block_split.c). */
void side_sub_build_data(struct side_blk_sub *sub);

#endif
