// SPDX-License-Identifier: GPL-2.0-only
/*
 * The XArray (lib/xarray.c) as a map from index to entry: what a driver can observe of it (load, store, erase,
 * find in index order, destroy; xa_empty() reads the head) behaves as Linux's. The layout differs: xa_head points
 * at a sorted array of (index, entry) pairs instead of a radix tree, and is NULL exactly when the array is empty,
 * as Linux's head is. No marks are kept (nothing here sets one), so a search by mark finds nothing, as in an
 * XArray whose marks were never set. Multi-index entries (xa_store_range) are not offered.
 */
#include <linux/slab.h>
#include <linux/xarray.h>

#include "kapi.h"

struct side_xa_slot {
	unsigned long index;
	void *entry;
};

struct side_xa_node {
	unsigned int nr, cap;
	struct side_xa_slot slot[];
};

static struct side_xa_node *side_xa_node(struct xarray *xa)
{
	return (struct side_xa_node *)rcu_dereference_raw(xa->xa_head);
}

/* The first slot whose index is >= index (nr if none). */
static unsigned int side_xa_seek(const struct side_xa_node *n, unsigned long index)
{
	unsigned int lo = 0, hi = n ? n->nr : 0;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (n->slot[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void *xa_load(struct xarray *xa, unsigned long index)
{
	struct side_xa_node *n;
	unsigned long flags;
	void *entry = NULL;
	unsigned int i;

	xa_lock_irqsave(xa, flags);
	n = side_xa_node(xa);
	i = side_xa_seek(n, index);
	if (n && i < n->nr && n->slot[i].index == index)
		entry = n->slot[i].entry;
	xa_unlock_irqrestore(xa, flags);
	return entry;
}

static void *side_xa_remove(struct xarray *xa, unsigned long index)
{
	struct side_xa_node *n = side_xa_node(xa);
	unsigned int i = side_xa_seek(n, index);
	void *old;

	if (!n || i >= n->nr || n->slot[i].index != index)
		return NULL;
	old = n->slot[i].entry;
	memmove(&n->slot[i], &n->slot[i + 1], (n->nr - i - 1) * sizeof(n->slot[0]));
	if (!--n->nr) {
		rcu_assign_pointer(xa->xa_head, NULL);
		kfree(n);
	}
	return old;
}

/* Makes room for one more slot (the node moves). xa_lock is dropped around the allocation, so the caller looks
 * again afterwards: the array may have changed meanwhile. */
static bool side_xa_grow(struct xarray *xa, gfp_t gfp, unsigned long *flags)
{
	struct side_xa_node *n = side_xa_node(xa), *bigger;
	unsigned int cap = n ? n->cap * 2 : 4;

	xa_unlock_irqrestore(xa, *flags);
	bigger = kmalloc(struct_size(bigger, slot, cap), gfp);
	xa_lock_irqsave(xa, *flags);
	if (!bigger)
		return false;
	n = side_xa_node(xa);
	if (n && (n->nr < n->cap || n->nr >= cap)) {
		kfree(bigger); /* room appeared meanwhile, or ours is too small now: look again */
		return true;
	}
	bigger->cap = cap;
	bigger->nr = n ? n->nr : 0;
	if (n)
		memcpy(bigger->slot, n->slot, n->nr * sizeof(n->slot[0]));
	rcu_assign_pointer(xa->xa_head, bigger);
	kfree(n);
	return true;
}

/* Under xa_lock: replaces or inserts; returns the old entry, or XA_ERROR(-ENOMEM). */
static void *side_xa_put(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp, unsigned long *flags)
{
	for (;;) {
		struct side_xa_node *n = side_xa_node(xa);
		unsigned int i = side_xa_seek(n, index);
		void *old;

		if (n && i < n->nr && n->slot[i].index == index) {
			old = n->slot[i].entry;
			n->slot[i].entry = entry;
			return old;
		}
		if (n && n->nr < n->cap) {
			memmove(&n->slot[i + 1], &n->slot[i], (n->nr - i) * sizeof(n->slot[0]));
			n->slot[i] = (struct side_xa_slot){ index, entry };
			n->nr++;
			return NULL;
		}
		if (!side_xa_grow(xa, gfp, flags))
			return XA_ERROR(-ENOMEM);
	}
}

void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	unsigned long flags;
	void *old;

	if (WARN_ON_ONCE(xa_is_advanced(entry)))
		return XA_ERROR(-EINVAL);
	xa_lock_irqsave(xa, flags);
	old = entry ? side_xa_put(xa, index, entry, gfp, &flags) : side_xa_remove(xa, index);
	xa_unlock_irqrestore(xa, flags);
	return old;
}

void *xa_erase(struct xarray *xa, unsigned long index)
{
	unsigned long flags;
	void *old;

	xa_lock_irqsave(xa, flags);
	old = side_xa_remove(xa, index);
	xa_unlock_irqrestore(xa, flags);
	return old;
}

/* The first entry at an index in [from, max]; *indexp is set to its index. Marks: none is ever set. */
static void *side_xa_find_from(struct xarray *xa, unsigned long *indexp, unsigned long from, unsigned long max,
			       xa_mark_t filter)
{
	struct side_xa_node *n;
	unsigned long flags;
	void *entry = NULL;
	unsigned int i;

	if (filter != XA_PRESENT)
		return NULL;
	xa_lock_irqsave(xa, flags);
	n = side_xa_node(xa);
	i = side_xa_seek(n, from);
	if (n && i < n->nr && n->slot[i].index <= max) {
		*indexp = n->slot[i].index;
		entry = n->slot[i].entry;
	}
	xa_unlock_irqrestore(xa, flags);
	return entry;
}

void *xa_find(struct xarray *xa, unsigned long *indexp, unsigned long max, xa_mark_t filter)
{
	return side_xa_find_from(xa, indexp, *indexp, max, filter);
}

void *xa_find_after(struct xarray *xa, unsigned long *indexp, unsigned long max, xa_mark_t filter)
{
	if (*indexp == ULONG_MAX)
		return NULL;
	return side_xa_find_from(xa, indexp, *indexp + 1, max, filter);
}

void xa_destroy(struct xarray *xa)
{
	unsigned long flags;
	struct side_xa_node *n;

	xa_lock_irqsave(xa, flags);
	n = side_xa_node(xa);
	rcu_assign_pointer(xa->xa_head, NULL);
	xa_unlock_irqrestore(xa, flags);
	kfree(n);
}
