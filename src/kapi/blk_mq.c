// SPDX-License-Identifier: GPL-2.0-only
/*
 * blk-mq's tag sets and hardware queues (block/blk-mq.c, blk-mq-cpumap.c, blk-mq-virtio.c): a tag set is what a
 * driver describes once (operations, queue count and depth, per-request driver data); each request queue built
 * on it gets one hardware context per hardware queue, with that queue's tags. Requests reach hardware context
 * through the CPU -> queue maps the driver's map_queues fills in.
 */
#include <linux/blk-mq-pci.h>
#include <linux/blk-mq-virtio.h>
#include <linux/pci.h>
#include <linux/cpumask.h>
#include <linux/slab.h>
#include <linux/virtio_config.h>

#include "blk.h"
#include "kapi.h"

static int side_blk_check_set(struct blk_mq_tag_set *set)
{
	if (!set->nr_hw_queues || !set->queue_depth || !set->ops || !set->ops->queue_rq)
		return -EINVAL;
	if (set->queue_depth < set->reserved_tags + 1)
		return -EINVAL;
	if (!set->ops->get_budget ^ !set->ops->put_budget)
		return -EINVAL;
	if (set->queue_depth > BLK_MQ_MAX_DEPTH) {
		pr_info("blk-mq: reduced tag depth to %u\n", BLK_MQ_MAX_DEPTH);
		set->queue_depth = BLK_MQ_MAX_DEPTH;
	}
	if (!set->nr_maps)
		set->nr_maps = 1;
	else if (set->nr_maps > HCTX_MAX_TYPES)
		return -EINVAL;
	/* More queues than CPUs could never all be mapped to (blk_mq_alloc_tag_set). */
	if (set->nr_maps == 1 && set->nr_hw_queues > nr_cpu_ids)
		set->nr_hw_queues = nr_cpu_ids;
	return 0;
}

static void side_blk_free_maps(struct blk_mq_tag_set *set)
{
	unsigned int i;

	for (i = 0; i < set->nr_maps; i++) {
		kfree(set->map[i].mq_map);
		set->map[i].mq_map = NULL;
	}
}

static int side_blk_update_maps(struct blk_mq_tag_set *set)
{
	unsigned int i;

	for (i = 0; i < set->nr_maps; i++) {
		set->map[i].mq_map = kcalloc(nr_cpu_ids, sizeof(unsigned int), GFP_KERNEL);
		if (!set->map[i].mq_map)
			return -ENOMEM;
	}
	if (set->nr_maps == 1)
		set->map[HCTX_TYPE_DEFAULT].nr_queues = set->nr_hw_queues;
	if (set->ops->map_queues)
		set->ops->map_queues(set);
	else
		blk_mq_map_queues(&set->map[HCTX_TYPE_DEFAULT]);
	return 0;
}

static void side_blk_free_set_tags(struct blk_mq_tag_set *set)
{
	unsigned int i;

	if (set->flags & BLK_MQ_F_TAG_HCTX_SHARED) {
		side_blk_tags_free(set, (struct side_blk_tags *)set->shared_tags);
		set->shared_tags = NULL;
	} else if (set->tags) {
		for (i = 0; i < set->nr_hw_queues; i++)
			side_blk_tags_free(set, (struct side_blk_tags *)set->tags[i]);
	}
	kfree(set->tags);
	set->tags = NULL;
}

static int side_blk_alloc_set_tags(struct blk_mq_tag_set *set)
{
	unsigned int i;

	set->tags = kcalloc(set->nr_hw_queues, sizeof(*set->tags), GFP_KERNEL);
	if (!set->tags)
		return -ENOMEM;
	if (set->flags & BLK_MQ_F_TAG_HCTX_SHARED) {
		set->shared_tags = (struct blk_mq_tags *)side_blk_tags_alloc(set, BLK_MQ_NO_HCTX_IDX);
		if (!set->shared_tags)
			return -ENOMEM;
	}
	for (i = 0; i < set->nr_hw_queues; i++) {
		if (set->shared_tags)
			set->tags[i] = set->shared_tags;
		else
			set->tags[i] = (struct blk_mq_tags *)side_blk_tags_alloc(set, i);
		if (!set->tags[i])
			return -ENOMEM;
	}
	return 0;
}

int blk_mq_alloc_tag_set(struct blk_mq_tag_set *set)
{
	int ret = side_blk_check_set(set);

	if (ret)
		return ret;
	mutex_init(&set->tag_list_lock);
	INIT_LIST_HEAD(&set->tag_list);
	ret = side_blk_update_maps(set);
	if (!ret)
		ret = side_blk_alloc_set_tags(set);
	if (ret) {
		side_blk_free_set_tags(set);
		side_blk_free_maps(set);
	}
	return ret;
}

/* Every request's exit_request runs here, as blk_mq_free_rqs does; queues built on the set must be gone. */
void blk_mq_free_tag_set(struct blk_mq_tag_set *set)
{
	if (!list_empty(&set->tag_list))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "blk_mq_free_tag_set of a tag set a request queue still uses");
	side_blk_free_set_tags(set);
	side_blk_free_maps(set);
}

/* CPUs are spread over the queues in turn (blk_mq_map_queues without topology: every CPU is its own core). */
void blk_mq_map_queues(struct blk_mq_queue_map *qmap)
{
	unsigned int cpu;

	if (!qmap->nr_queues)
		return;
	for_each_possible_cpu(cpu)
		qmap->mq_map[cpu] = qmap->queue_offset + cpu % qmap->nr_queues;
}

/* Each queue serves the CPUs its interrupt vector's affinity names; without affinity, the default spread. */
void blk_mq_virtio_map_queues(struct blk_mq_queue_map *qmap, struct virtio_device *vdev, int first_vec)
{
	const struct cpumask *mask;
	unsigned int queue, cpu;

	if (!vdev->config->get_vq_affinity)
		goto fallback;
	for (queue = 0; queue < qmap->nr_queues; queue++) {
		mask = vdev->config->get_vq_affinity(vdev, first_vec + queue);
		if (!mask)
			goto fallback;
		for_each_cpu(cpu, mask)
			qmap->mq_map[cpu] = qmap->queue_offset + queue;
	}
	return;
fallback:
	blk_mq_map_queues(qmap);
}

/* Each queue takes the CPUs of its interrupt vector's affinity; without one (side spreads no vector) every CPU
 * goes to the map's first queue, with Linux's warning when there was more than one to spread over. */
void blk_mq_pci_map_queues(struct blk_mq_queue_map *qmap, struct pci_dev *pdev, int offset)
{
	const struct cpumask *mask;
	unsigned int queue, cpu;

	for (queue = 0; queue < qmap->nr_queues; queue++) {
		mask = pci_irq_get_affinity(pdev, queue + offset);
		if (!mask)
			goto fallback;
		for_each_cpu(cpu, mask)
			qmap->mq_map[cpu] = qmap->queue_offset + queue;
	}
	return;
fallback:
	WARN_ON_ONCE(qmap->nr_queues > 1);
	for_each_possible_cpu(cpu)
		qmap->mq_map[cpu] = 0;
}

/* The same number of queues: the maps are made again (the driver's map_queues, as after a reset). A different
 * number would rebuild every queue's hardware contexts, which this layer does not do: a detected fault. */
void blk_mq_update_nr_hw_queues(struct blk_mq_tag_set *set, int nr_hw_queues)
{
	unsigned int i, cpu;

	if (nr_hw_queues < 1)
		return;
	if (set->nr_maps == 1 && nr_hw_queues > nr_cpu_ids)
		nr_hw_queues = nr_cpu_ids;
	if (nr_hw_queues != set->nr_hw_queues)
		side_fault(SIDE_FAULT_MISSING_SYMBOL, SIDE_CALLER,
			   "blk_mq_update_nr_hw_queues from %u to %d hardware queues: not supported", set->nr_hw_queues,
			   nr_hw_queues);
	for (i = 0; i < set->nr_maps; i++)
		for_each_possible_cpu(cpu)
			set->map[i].mq_map[cpu] = 0;
	if (set->nr_maps == 1)
		set->map[HCTX_TYPE_DEFAULT].nr_queues = set->nr_hw_queues;
	if (set->ops->map_queues)
		set->ops->map_queues(set);
	else
		blk_mq_map_queues(&set->map[HCTX_TYPE_DEFAULT]);
}
