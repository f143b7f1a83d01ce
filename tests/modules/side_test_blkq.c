// SPDX-License-Identifier: GPL-2.0-only
/*
 * A request queue without a disk, as nvme's admin queue is one (blk_mq_init_queue): passthrough requests issued
 * without waiting reach queue_rq, busy iteration sees the started ones, a quiesced queue dispatches nothing until
 * unquiesced, completion marks a request complete and leaves ending it to the driver, a freeze waits (bounded by
 * its timeout) for requests to end, the inline blk_mq_tag_to_rq() finds a request by tag, a stack buffer travels
 * bounced (the device reads and writes the bounce; the caller's buffer sees the read), and the queue is destroyed,
 * put and its tag set freed. Every check logs its line on failure; the last line says "ok".
 */
#include <linux/blk-mq.h>
#include <linux/blkdev.h>
#include <linux/delay.h>
#include <linux/highmem.h>
#include <linux/module.h>

#define CHECK(cond)                                                                                  \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			pr_err("side_test_blkq: check failed: %s (line %d)\n", #cond, __LINE__);     \
			return -EIO;                                                                 \
		}                                                                                    \
	} while (0)

static struct blk_mq_tag_set set;
static struct request *queued[8];
static int nr_queued, nr_ended;

static enum rq_end_io_ret q_end_io(struct request *rq, blk_status_t error);

static blk_status_t q_queue_rq(struct blk_mq_hw_ctx *hctx, const struct blk_mq_queue_data *bd)
{
	struct request *rq = bd->rq;
	struct req_iterator iter;
	struct bio_vec bv;

	blk_mq_start_request(rq);
	/* The "device" fills what it is asked to read with 0x5a. */
	if (req_op(rq) == REQ_OP_DRV_IN)
		rq_for_each_segment(bv, rq, iter)
			memset(bvec_virt(&bv), 0x5a, bv.bv_len);
	queued[nr_queued++] = rq;
	/* A request with data is the synchronous one: the device answers it at once. */
	if (rq->bio)
		blk_mq_complete_request(rq);
	return BLK_STS_OK;
}

static void q_complete(struct request *rq)
{
	blk_mq_end_request(rq, BLK_STS_OK);
}

static const struct blk_mq_ops ops = { .queue_rq = q_queue_rq, .complete = q_complete };

static enum rq_end_io_ret q_end_io(struct request *rq, blk_status_t error)
{
	nr_ended++;
	return RQ_END_IO_FREE;
}

static bool count_started(struct request *rq, void *data)
{
	(*(int *)data)++;
	return true;
}

static int issue(struct request_queue *q, struct request **out)
{
	struct request *rq = blk_mq_alloc_request(q, REQ_OP_DRV_IN, 0);

	CHECK(!IS_ERR(rq));
	rq->end_io = q_end_io;
	blk_execute_rq_nowait(rq, false);
	*out = rq;
	return 0;
}

static int started(void)
{
	int n = 0;

	blk_mq_tagset_busy_iter(&set, count_started, &n);
	return n;
}

static int check_queue(struct request_queue *q)
{
	struct request *a, *b, *c;
	u8 stack_buf[64];
	int ret;

	CHECK(!issue(q, &a) && !issue(q, &b) && nr_queued == 2 && started() == 2);
	CHECK(blk_mq_tag_to_rq(set.tags[0], a->tag) == a && blk_mq_tag_to_rq(set.tags[0], b->tag) == b);
	blk_mq_quiesce_queue(q);
	CHECK(!issue(q, &c) && nr_queued == 2); /* parked while quiesced */
	blk_mq_unquiesce_queue(q); /* runs the queue asynchronously, as Linux does */
	for (ret = 0; ret < 1000 && READ_ONCE(nr_queued) < 3; ret++)
		msleep(1);
	CHECK(nr_queued == 3 && started() == 3);
	CHECK(blk_mq_freeze_queue_wait_timeout(q, msecs_to_jiffies(20)) == 0); /* three still allocated */
	CHECK(!blk_mq_complete_request_remote(a) && blk_mq_request_completed(a));
	q_complete(a);
	blk_mq_complete_request(b);
	blk_mq_complete_request(c);
	blk_mq_tagset_wait_completed_request(&set);
	CHECK(nr_ended == 3 && started() == 0);
	blk_freeze_queue_start(q);
	CHECK(blk_mq_freeze_queue_wait_timeout(q, msecs_to_jiffies(1000)) > 0);
	blk_mq_unfreeze_queue(q);
	/* A stack buffer: bounced, and the read comes back into it. */
	memset(stack_buf, 0, sizeof(stack_buf));
	a = blk_mq_alloc_request(q, REQ_OP_DRV_IN, 0);
	CHECK(!IS_ERR(a));
	ret = blk_rq_map_kern(q, a, stack_buf, sizeof(stack_buf), GFP_KERNEL);
	CHECK(ret == 0 && bio_data(a->bio) != (void *)stack_buf);
	CHECK(blk_execute_rq(a, false) == BLK_STS_OK);
	blk_mq_free_request(a);
	CHECK(stack_buf[0] == 0x5a && stack_buf[63] == 0x5a);
	return 0;
}

static int __init side_test_blkq_init(void)
{
	struct request_queue *q;
	int ret;

	set.ops = &ops;
	set.nr_hw_queues = 1;
	set.queue_depth = 4;
	set.numa_node = NUMA_NO_NODE;
	ret = blk_mq_alloc_tag_set(&set);
	CHECK(ret == 0);
	q = blk_mq_init_queue(&set);
	CHECK(!IS_ERR(q));
	ret = check_queue(q);
	if (!ret) {
		/* nvme's pattern: destroy, then drop the reference; the tag set is then free of queues. */
		blk_mq_destroy_queue(q);
		CHECK(IS_ERR(blk_mq_alloc_request(q, REQ_OP_DRV_IN, BLK_MQ_REQ_NOWAIT)));
		blk_put_queue(q);
		blk_mq_free_tag_set(&set);
		pr_info("side_test_blkq: ok %d queued, %d ended\n", nr_queued, nr_ended);
	}
	return ret;
}

static void __exit side_test_blkq_exit(void)
{
}

module_init(side_test_blkq_init);
module_exit(side_test_blkq_exit);
MODULE_LICENSE("GPL");
