// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory pools (mm/mempool.c): min_nr elements are allocated up front and kept in reserve; an allocation tries
 * the allocator first (without reclaim) and falls back on the reserve; a freed element refills the reserve before
 * it goes back to the allocator. An allocation that may sleep waits for an element to come back, bounded: one
 * that never comes is a detected hang.
 */
#include <linux/mempool.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "kapi.h"

static void side_pool_add(mempool_t *pool, void *element)
{
	pool->elements[pool->curr_nr++] = element;
}

static void *side_pool_remove(mempool_t *pool)
{
	return pool->elements[--pool->curr_nr];
}

void mempool_destroy(mempool_t *pool)
{
	if (unlikely(!pool))
		return;
	while (pool->curr_nr)
		pool->free(side_pool_remove(pool), pool->pool_data);
	kfree(pool->elements);
	kfree(pool);
}

mempool_t *mempool_create_node(int min_nr, mempool_alloc_t *alloc_fn, mempool_free_t *free_fn, void *pool_data,
			       gfp_t gfp_mask, int node_id)
{
	mempool_t *pool = kzalloc_node(sizeof(*pool), gfp_mask, node_id);

	if (!pool)
		return NULL;
	spin_lock_init(&pool->lock);
	pool->min_nr = min_nr;
	pool->pool_data = pool_data;
	pool->alloc = alloc_fn;
	pool->free = free_fn;
	init_waitqueue_head(&pool->wait);
	pool->elements = kmalloc_array_node(min_nr, sizeof(void *), gfp_mask, node_id);
	if (!pool->elements) {
		kfree(pool);
		return NULL;
	}
	while (pool->curr_nr < pool->min_nr) {
		void *element = pool->alloc(gfp_mask, pool->pool_data);

		if (unlikely(!element)) {
			mempool_destroy(pool);
			return NULL;
		}
		side_pool_add(pool, element);
	}
	return pool;
}

mempool_t *mempool_create(int min_nr, mempool_alloc_t *alloc_fn, mempool_free_t *free_fn, void *pool_data)
{
	return mempool_create_node(min_nr, alloc_fn, free_fn, pool_data, GFP_KERNEL, NUMA_NO_NODE);
}

static void *side_pool_take(mempool_t *pool)
{
	unsigned long flags;
	void *element = NULL;

	spin_lock_irqsave(&pool->lock, flags);
	if (likely(pool->curr_nr))
		element = side_pool_remove(pool);
	spin_unlock_irqrestore(&pool->lock, flags);
	return element;
}

static bool side_pool_refilled(void *arg)
{
	return READ_ONCE(((mempool_t *)arg)->curr_nr) > 0;
}

void *mempool_alloc(mempool_t *pool, gfp_t gfp_mask)
{
	gfp_t gfp_temp = (gfp_mask & ~(__GFP_DIRECT_RECLAIM | __GFP_IO)) | __GFP_NOMEMALLOC | __GFP_NORETRY |
			 __GFP_NOWARN;
	u64 start = side_host_real_clock_ns();
	void *element;

	for (;;) {
		element = pool->alloc(gfp_temp, pool->pool_data);
		if (likely(element))
			return element;
		element = side_pool_take(pool);
		if (element)
			return element;
		if (!(gfp_mask & __GFP_DIRECT_RECLAIM))
			return NULL;
		/* Linux sleeps up to 5 s for a free, then retries with the caller's full mask. */
		gfp_temp = gfp_mask;
		side_wait_cond_ns(side_pool_refilled, pool, 5ULL * NSEC_PER_SEC);
		if (side_host_real_clock_ns() - start > SIDE_SLEEP_HANG_NS)
			side_fault(SIDE_FAULT_HUNG, SIDE_CALLER, "mempool_alloc: pool %px empty for %llu s", pool,
				   SIDE_SLEEP_HANG_NS / NSEC_PER_SEC);
	}
}

void mempool_free(void *element, mempool_t *pool)
{
	unsigned long flags;

	if (unlikely(element == NULL))
		return;
	if (unlikely(READ_ONCE(pool->curr_nr) < pool->min_nr)) {
		spin_lock_irqsave(&pool->lock, flags);
		if (likely(pool->curr_nr < pool->min_nr)) {
			side_pool_add(pool, element);
			spin_unlock_irqrestore(&pool->lock, flags);
			wake_up(&pool->wait);
			return;
		}
		spin_unlock_irqrestore(&pool->lock, flags);
	}
	pool->free(element, pool->pool_data);
}

void *mempool_kmalloc(gfp_t gfp_mask, void *pool_data)
{
	return kmalloc((size_t)pool_data, gfp_mask);
}

void mempool_kfree(void *element, void *pool_data)
{
	kfree(element);
}

void *mempool_alloc_slab(gfp_t gfp_mask, void *pool_data)
{
	return kmem_cache_alloc(pool_data, gfp_mask);
}

void mempool_free_slab(void *element, void *pool_data)
{
	kmem_cache_free(pool_data, element);
}
