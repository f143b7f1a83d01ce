// SPDX-License-Identifier: GPL-2.0-only
/*
 * DMA pools (mm/dmapool.c): small blocks of one size carved from pages of coherent DMA memory, so that a driver gets
 * many descriptors without a page each. Blocks are `size` bytes rounded up to `align`, and a block never crosses a
 * multiple of `boundary` inside its page (as the kernel lays them out: a block that would cross starts at the
 * boundary instead). Each page is `allocation` bytes, at least PAGE_SIZE, from dma_alloc_coherent(), so every block
 * is mapped for the device for as long as its page exists.
 *
 * The free/used state lives in a bitmap of the layer's own, not in the free blocks as in the kernel, so a driver
 * that writes past a block cannot corrupt the pool. Freeing an address the pool never gave out, with the wrong DMA
 * address, or twice is a driver fault.
 */
#include <linux/dma-mapping.h>
#include <linux/dmapool.h>
#include <linux/slab.h>

#include "kapi.h"

struct dma_pool {
	struct list_head pages;
	spinlock_t lock;
	struct device *dev;
	size_t size;            /* of a block, aligned */
	size_t allocation;      /* of a page of blocks */
	size_t boundary;
	unsigned int nr_blocks; /* per page */
	u32 *offsets;           /* of each block in a page */
	char name[32];
};

struct side_pool_page {
	struct list_head link;
	void *vaddr;
	dma_addr_t dma;
	unsigned int in_use;
	unsigned long used[]; /* one bit per block */
};

/* The kernel's layout walk: blocks back to back, except that none straddles a boundary. */
static unsigned int side_pool_layout(struct dma_pool *pool, u32 *offsets)
{
	size_t offset = 0, next_boundary = pool->boundary;
	unsigned int n = 0;

	while (offset + pool->size <= pool->allocation) {
		if (offset + pool->size > next_boundary) {
			offset = next_boundary;
			next_boundary += pool->boundary;
			continue;
		}
		if (offsets)
			offsets[n] = offset;
		n++;
		offset += pool->size;
	}
	return n;
}

struct dma_pool *dma_pool_create(const char *name, struct device *dev, size_t size, size_t align, size_t boundary)
{
	struct dma_pool *pool;

	if (!align)
		align = 1;
	else if (align & (align - 1))
		return NULL;
	if (!size)
		return NULL;
	if (size < 4)
		size = 4;
	size = ALIGN(size, align);
	if (!boundary)
		boundary = max_t(size_t, size, PAGE_SIZE);
	else if (boundary < size || (boundary & (boundary - 1)))
		return NULL;
	pool = kzalloc(sizeof(*pool), GFP_KERNEL);
	if (!pool)
		return NULL;
	strscpy(pool->name, name ? name : "", sizeof(pool->name));
	INIT_LIST_HEAD(&pool->pages);
	spin_lock_init(&pool->lock);
	pool->dev = dev;
	pool->size = size;
	pool->allocation = max_t(size_t, size, PAGE_SIZE);
	pool->boundary = min(boundary, pool->allocation);
	pool->nr_blocks = side_pool_layout(pool, NULL);
	pool->offsets = kcalloc(pool->nr_blocks, sizeof(u32), GFP_KERNEL);
	if (!pool->offsets) {
		kfree(pool);
		return NULL;
	}
	side_pool_layout(pool, pool->offsets);
	return pool;
}

static struct side_pool_page *side_pool_grow(struct dma_pool *pool, gfp_t gfp)
{
	struct side_pool_page *page;

	page = kzalloc(struct_size(page, used, BITS_TO_LONGS(pool->nr_blocks)), gfp & ~__GFP_ZERO);
	if (!page)
		return NULL;
	page->vaddr = dma_alloc_coherent(pool->dev, pool->allocation, &page->dma, gfp & ~__GFP_ZERO);
	if (!page->vaddr) {
		kfree(page);
		return NULL;
	}
	return page;
}

void *dma_pool_alloc(struct dma_pool *pool, gfp_t mem_flags, dma_addr_t *handle)
{
	struct side_pool_page *page, *fresh = NULL;
	unsigned long flags;
	unsigned int block;
	void *vaddr;

	spin_lock_irqsave(&pool->lock, flags);
	for (;;) {
		list_for_each_entry(page, &pool->pages, link)
			if (page->in_use < pool->nr_blocks)
				goto found;
		if (fresh) {
			page = fresh;
			fresh = NULL;
			list_add(&page->link, &pool->pages);
			goto found;
		}
		/* The page allocation may sleep (GFP_KERNEL): not under the pool's lock. */
		spin_unlock_irqrestore(&pool->lock, flags);
		fresh = side_pool_grow(pool, mem_flags);
		if (!fresh)
			return NULL;
		spin_lock_irqsave(&pool->lock, flags);
	}
found:
	block = find_first_zero_bit(page->used, pool->nr_blocks);
	__set_bit(block, page->used);
	page->in_use++;
	spin_unlock_irqrestore(&pool->lock, flags);
	if (fresh) /* another CPU freed a block meanwhile */
		dma_free_coherent(pool->dev, pool->allocation, fresh->vaddr, fresh->dma), kfree(fresh);
	vaddr = page->vaddr + pool->offsets[block];
	*handle = page->dma + pool->offsets[block];
	if (mem_flags & __GFP_ZERO)
		memset(vaddr, 0, pool->size);
	return vaddr;
}

/* The block at `off` in a page, or -1 when no block starts there. */
static int side_pool_block(struct dma_pool *pool, size_t off)
{
	unsigned int lo = 0, hi = pool->nr_blocks;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (pool->offsets[mid] == off)
			return mid;
		if (pool->offsets[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void dma_pool_free(struct dma_pool *pool, void *vaddr, dma_addr_t dma)
{
	struct side_pool_page *page;
	unsigned long flags;
	int block = -1;
	size_t off = 0;

	spin_lock_irqsave(&pool->lock, flags);
	list_for_each_entry(page, &pool->pages, link) {
		if (vaddr < page->vaddr || vaddr >= page->vaddr + pool->allocation)
			continue;
		off = vaddr - page->vaddr;
		block = side_pool_block(pool, off);
		if (block >= 0 && page->dma + off == dma && test_bit(block, page->used)) {
			__clear_bit(block, page->used);
			page->in_use--;
			spin_unlock_irqrestore(&pool->lock, flags);
			return;
		}
		break;
	}
	spin_unlock_irqrestore(&pool->lock, flags);
	side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "dma_pool_free %s, %px/%#llx: %s", pool->name, vaddr,
		   (unsigned long long)dma,
		   block < 0 ? "not a block of this pool" :
		   page->dma + off != dma ? "wrong DMA address" : "already free");
}

void dma_pool_destroy(struct dma_pool *pool)
{
	struct side_pool_page *page, *tmp;

	if (!pool)
		return;
	list_for_each_entry_safe(page, tmp, &pool->pages, link) {
		list_del(&page->link);
		if (page->in_use) {
			/* As the kernel: the device may still use a busy block, so its page is never freed. */
			dev_err(pool->dev, "dma_pool_destroy %s, %px busy\n", pool->name, page->vaddr);
			continue;
		}
		dma_free_coherent(pool->dev, pool->allocation, page->vaddr, page->dma);
		kfree(page);
	}
	kfree(pool->offsets);
	kfree(pool);
}
