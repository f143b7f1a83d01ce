// SPDX-License-Identifier: GPL-2.0-only
/*
 * Weak stand-ins for library functions the network files need and that belong elsewhere in the layer (list
 * debugging of lib/list_debug.c, refcount saturation of lib/refcount.c). A strong definition in another file
 * replaces them at link time; they check and report exactly as those do, so either one is correct.
 */
#include <linux/list.h>
#include <linux/poison.h>
#include <linux/refcount.h>

#include "kapi.h"

bool __weak __list_add_valid(struct list_head *new, struct list_head *prev, struct list_head *next)
{
	if (!prev || !next || next->prev != prev || prev->next != next || new == prev || new == next)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "list_add corruption: new=%px prev=%px next=%px", new, prev,
			   next);
	return true;
}

bool __weak __list_del_entry_valid(struct list_head *entry)
{
	struct list_head *prev = entry->prev, *next = entry->next;

	if (!prev || !next || next == LIST_POISON1 || prev == LIST_POISON2 || prev->next != entry ||
	    next->prev != entry)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "list_del corruption: entry=%px prev=%px next=%px", entry, prev,
			   next);
	return true;
}

/* Debian's refcount_t saturates instead of wrapping; each misuse is reported as the kernel's WARN would. */
void __weak refcount_warn_saturate(refcount_t *r, enum refcount_saturation_type t)
{
	static const char *const what[] = {
		[REFCOUNT_ADD_NOT_ZERO_OVF] = "saturated; leaking memory",
		[REFCOUNT_ADD_OVF] = "saturated; leaking memory",
		[REFCOUNT_ADD_UAF] = "addition on 0; use-after-free",
		[REFCOUNT_SUB_UAF] = "underflow; use-after-free",
		[REFCOUNT_DEC_LEAK] = "decrement hit 0; leaking memory",
	};

	refcount_set(r, REFCOUNT_SATURATED);
	WARN_ONCE(1, "refcount_t: %s.\n", (unsigned int)t < ARRAY_SIZE(what) ? what[t] : "?");
}
