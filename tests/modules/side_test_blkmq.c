// SPDX-License-Identifier: GPL-2.0-only
/*
 * A memory-backed blk-mq disk for the block layer's tests: its driver behaviour is chosen by parameters, so the
 * test can watch what the layer does with tags, completions, requeues and timeouts.
 *   depth=N      queue depth (tags)
 *   batch=N      requests are held until N are in flight, then completed together, the newest first
 *   hold=1       requests are never completed: the timeout handler ends them with BLK_STS_TIMEOUT
 *   reset=N      the timeout handler first answers BLK_EH_RESET_TIMER N times (per request)
 *   requeue=1    every request is requeued once (blk_mq_requeue_request) before it is served
 *   timeout_ms=N the tag set's request timeout
 *   passthrough=1 at load, a driver-private request (REQ_OP_DRV_IN) over a kernel buffer runs synchronously
 *                (blk_mq_alloc_request, blk_rq_map_kern, blk_execute_rq), and the queue is frozen and quiesced
 * init_request/exit_request, timeouts and requeues are counted and logged when the module exits.
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#define SIDE_TEST_SECTORS 16384 /* 8 MiB */

static unsigned int depth = 4, batch = 1, hold, reset, requeue, timeout_ms = 30000, passthrough;
module_param(depth, uint, 0444);
module_param(batch, uint, 0444);
module_param(hold, uint, 0444);
module_param(reset, uint, 0444);
module_param(requeue, uint, 0444);
module_param(timeout_ms, uint, 0444);
module_param(passthrough, uint, 0444);

struct side_test_cmd {
	unsigned int requeued, resets;
	struct list_head held;
};

static struct blk_mq_tag_set set;
static struct gendisk *disk;
static u8 *store;
static atomic_t inits, exits, timeouts, requeues, served;
static DEFINE_SPINLOCK(held_lock);
static LIST_HEAD(held);
static unsigned int nr_held;
static struct work_struct complete_work;

static void side_test_copy(struct request *rq)
{
	struct req_iterator iter;
	struct bio_vec bv;
	u64 at = (u64)blk_rq_pos(rq) << SECTOR_SHIFT;

	rq_for_each_segment(bv, rq, iter) {
		void *p = page_address(bv.bv_page) + bv.bv_offset;

		if (rq_data_dir(rq) == WRITE)
			memcpy(store + at, p, bv.bv_len);
		else
			memcpy(p, store + at, bv.bv_len);
		at += bv.bv_len;
	}
}

/* A driver-private "identify": the data is 0xa5 bytes, as many as the request has. */
static void side_test_fill(struct request *rq)
{
	struct req_iterator iter;
	struct bio_vec bv;

	rq_for_each_segment(bv, rq, iter)
		memset(page_address(bv.bv_page) + bv.bv_offset, 0xa5, bv.bv_len);
}

/* Completes every held request, the newest first: completion order is not submission order. */
static void side_test_complete_fn(struct work_struct *work)
{
	LIST_HEAD(list);
	struct side_test_cmd *cmd, *next;

	spin_lock_irq(&held_lock);
	list_splice_init(&held, &list);
	nr_held = 0;
	spin_unlock_irq(&held_lock);
	list_for_each_entry_safe_reverse(cmd, next, &list, held) {
		list_del_init(&cmd->held);
		blk_mq_complete_request(blk_mq_rq_from_pdu(cmd));
	}
}

static blk_status_t side_test_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct side_test_cmd *cmd = blk_mq_rq_to_pdu(rq);
	bool full;

	blk_mq_start_request(rq);
	if (requeue && !cmd->requeued++) {
		atomic_inc(&requeues);
		blk_mq_requeue_request(rq, true);
		return BLK_STS_OK;
	}
	if (hold)
		return BLK_STS_OK;
	if (req_op(rq) == REQ_OP_READ || req_op(rq) == REQ_OP_WRITE)
		side_test_copy(rq);
	else if (req_op(rq) == REQ_OP_DRV_IN)
		side_test_fill(rq);
	atomic_inc(&served);
	spin_lock_irq(&held_lock);
	list_add_tail(&cmd->held, &held);
	full = ++nr_held >= batch;
	spin_unlock_irq(&held_lock);
	if (full)
		schedule_work(&complete_work);
	return BLK_STS_OK;
}

static void side_test_complete(struct request *rq)
{
	struct side_test_cmd *cmd = blk_mq_rq_to_pdu(rq);

	cmd->requeued = 0;
	cmd->resets = 0;
	blk_mq_end_request(rq, BLK_STS_OK);
}

static enum blk_eh_timer_return side_test_timeout(struct request *rq)
{
	struct side_test_cmd *cmd = blk_mq_rq_to_pdu(rq);

	atomic_inc(&timeouts);
	if (cmd->resets < reset) {
		cmd->resets++;
		return BLK_EH_RESET_TIMER;
	}
	cmd->resets = 0;
	blk_mq_end_request(rq, BLK_STS_TIMEOUT);
	return BLK_EH_DONE;
}

static int side_test_init_request(struct blk_mq_tag_set *s, struct request *rq, unsigned int hctx_idx,
				  unsigned int numa_node)
{
	INIT_LIST_HEAD(&((struct side_test_cmd *)blk_mq_rq_to_pdu(rq))->held);
	atomic_inc(&inits);
	return 0;
}

static void side_test_exit_request(struct blk_mq_tag_set *s, struct request *rq, unsigned int hctx_idx)
{
	atomic_inc(&exits);
}

static const struct blk_mq_ops side_test_ops = {
	.queue_rq = side_test_queue_rq,
	.complete = side_test_complete,
	.timeout = side_test_timeout,
	.init_request = side_test_init_request,
	.exit_request = side_test_exit_request,
};

static void side_test_passthrough(void)
{
	struct request_queue *q = disk->queue;
	struct request *rq = blk_mq_alloc_request(q, REQ_OP_DRV_IN, 0);
	u8 *buf = kzalloc(512, GFP_KERNEL);
	int err = -ENOMEM;

	if (!IS_ERR(rq) && buf) {
		err = blk_rq_map_kern(q, rq, buf, 512, GFP_KERNEL);
		if (!err)
			err = blk_status_to_errno(blk_execute_rq(rq, false));
	}
	if (!IS_ERR(rq))
		blk_mq_free_request(rq);
	pr_info("side_test_blkmq: passthrough %d, data %02x %02x\n", err, buf ? buf[0] : 0, buf ? buf[511] : 0);
	kfree(buf);
	blk_mq_freeze_queue(q);
	blk_mq_quiesce_queue_nowait(q);
	pr_info("side_test_blkmq: frozen, quiesced %d\n", blk_queue_quiesced(q));
	blk_mq_unquiesce_queue(q);
	blk_mq_unfreeze_queue(q);
	pr_info("side_test_blkmq: unfrozen, quiesced %d\n", blk_queue_quiesced(q));
}

static int __init side_test_blkmq_init(void)
{
	int err;

	store = vzalloc(SIDE_TEST_SECTORS << SECTOR_SHIFT);
	if (!store)
		return -ENOMEM;
	INIT_WORK(&complete_work, side_test_complete_fn);
	set.ops = &side_test_ops;
	set.nr_hw_queues = 1;
	set.queue_depth = depth;
	set.cmd_size = sizeof(struct side_test_cmd);
	set.timeout = msecs_to_jiffies(timeout_ms);
	set.numa_node = NUMA_NO_NODE;
	err = blk_mq_alloc_tag_set(&set);
	if (err)
		goto free_store;
	disk = blk_mq_alloc_disk(&set, NULL);
	if (IS_ERR(disk)) {
		err = PTR_ERR(disk);
		goto free_set;
	}
	strscpy(disk->disk_name, "sidetest0", sizeof(disk->disk_name));
	disk->minors = 1;
	set_capacity(disk, SIDE_TEST_SECTORS);
	err = add_disk(disk);
	if (err)
		goto put;
	pr_info("side_test_blkmq: disk ready, %u tags, init_request %d\n", depth, atomic_read(&inits));
	if (passthrough)
		side_test_passthrough();
	return 0;
put:
	put_disk(disk);
free_set:
	blk_mq_free_tag_set(&set);
free_store:
	vfree(store);
	return err;
}

static void __exit side_test_blkmq_exit(void)
{
	del_gendisk(disk);
	blk_mq_free_tag_set(&set);
	put_disk(disk);
	vfree(store);
	pr_info("side_test_blkmq: exit: init_request %d exit_request %d served %d requeues %d timeouts %d\n",
		atomic_read(&inits), atomic_read(&exits), atomic_read(&served), atomic_read(&requeues),
		atomic_read(&timeouts));
}

module_init(side_test_blkmq_init);
module_exit(side_test_blkmq_exit);
MODULE_LICENSE("GPL");
