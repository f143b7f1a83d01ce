// SPDX-License-Identifier: GPL-2.0-only
/*
 * ID allocation (lib/idr.c's ida_alloc_range, ida_free, ida_destroy): the smallest free id in [min, max]. The
 * kernel keeps the bitmap in the IDA's xarray; here the xarray's head points at one bitmap of the layer's own that
 * grows as ids are taken, so that an IDA defined with DEFINE_IDA (a NULL head) is empty, as ida_is_empty() sees it.
 */
#include <linux/bitmap.h>
#include <linux/idr.h>
#include <linux/slab.h>

#include "kapi.h"

/* More ids than a domain's drivers ever take from one IDA; beyond it an allocation fails as out of memory. */
#define SIDE_IDA_MAX_BITS 65536u

struct side_ida_bitmap {
	unsigned int nbits;
	unsigned int used;
	unsigned long bits[];
};

static DEFINE_SPINLOCK(side_ida_lock);

static struct side_ida_bitmap *side_ida_grow(struct side_ida_bitmap *old, unsigned int need, gfp_t gfp)
{
	unsigned int nbits = old ? old->nbits : BITS_PER_LONG;
	struct side_ida_bitmap *b;

	while (nbits <= need)
		nbits *= 2;
	if (nbits > SIDE_IDA_MAX_BITS)
		return NULL;
	b = kzalloc(struct_size(b, bits, BITS_TO_LONGS(nbits)), gfp);
	if (!b)
		return NULL;
	b->nbits = nbits;
	if (old) {
		bitmap_copy(b->bits, old->bits, old->nbits);
		b->used = old->used;
	}
	return b;
}

int ida_alloc_range(struct ida *ida, unsigned int min, unsigned int max, gfp_t gfp)
{
	struct side_ida_bitmap *b, *grown;
	unsigned long flags, id;

	if ((int)min < 0)
		return -ENOSPC;
	if ((int)max < 0)
		max = INT_MAX;
	spin_lock_irqsave(&side_ida_lock, flags);
	b = ida->xa.xa_head;
	id = b ? find_next_zero_bit(b->bits, b->nbits, min) : min;
	if (b && id >= b->nbits)
		id = max_t(unsigned long, b->nbits, min);
	if (id > max) {
		spin_unlock_irqrestore(&side_ida_lock, flags);
		return -ENOSPC;
	}
	if (!b || id >= b->nbits) {
		grown = side_ida_grow(b, id, GFP_ATOMIC);
		if (!grown) {
			spin_unlock_irqrestore(&side_ida_lock, flags);
			return -ENOMEM;
		}
		kfree(b);
		ida->xa.xa_head = b = grown;
	}
	__set_bit(id, b->bits);
	b->used++;
	spin_unlock_irqrestore(&side_ida_lock, flags);
	return id;
}

void ida_free(struct ida *ida, unsigned int id)
{
	struct side_ida_bitmap *b;
	unsigned long flags;

	spin_lock_irqsave(&side_ida_lock, flags);
	b = ida->xa.xa_head;
	if ((int)id < 0 || !b || id >= b->nbits || !test_bit(id, b->bits)) {
		spin_unlock_irqrestore(&side_ida_lock, flags);
		WARN(1, "ida_free called for id=%d which is not allocated.\n", id);
		return;
	}
	__clear_bit(id, b->bits);
	if (!--b->used) {
		ida->xa.xa_head = NULL;
		kfree(b);
	}
	spin_unlock_irqrestore(&side_ida_lock, flags);
}

void ida_destroy(struct ida *ida)
{
	unsigned long flags;
	void *b;

	spin_lock_irqsave(&side_ida_lock, flags);
	b = ida->xa.xa_head;
	ida->xa.xa_head = NULL;
	spin_unlock_irqrestore(&side_ida_lock, flags);
	kfree(b);
}
