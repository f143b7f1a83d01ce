// SPDX-License-Identifier: GPL-2.0-only
/*
 * List debugging (CONFIG_DEBUG_LIST): the kernel's inline list_add()/list_del() ask these first. Debian builds with
 * CONFIG_BUG_ON_DATA_CORRUPTION, so a corrupted list is a BUG(): here, a driver fault naming the corruption.
 */
#include <linux/list.h>
#include <linux/poison.h>

#include "kapi.h"

bool __list_add_valid(struct list_head *new, struct list_head *prev, struct list_head *next)
{
	if (!prev || !next)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "list_add corruption. %s is NULL", prev ? "next" : "prev");
	if (next->prev != prev)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER,
			   "list_add corruption. next->prev should be prev (%px), but was %px. (next=%px).", prev,
			   next->prev, next);
	if (prev->next != next)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER,
			   "list_add corruption. prev->next should be next (%px), but was %px. (prev=%px).", next,
			   prev->next, prev);
	if (new == prev || new == next)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "list_add double add: new=%px, prev=%px, next=%px.", new, prev,
			   next);
	return true;
}

bool __list_del_entry_valid(struct list_head *entry)
{
	struct list_head *prev = entry->prev, *next = entry->next;

	if (!next || !prev)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "list_del corruption, %px->%s is NULL", entry,
			   next ? "prev" : "next");
	if (next == LIST_POISON1)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "list_del corruption, %px->next is LIST_POISON1 (%px)", entry,
			   LIST_POISON1);
	if (prev == LIST_POISON2)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "list_del corruption, %px->prev is LIST_POISON2 (%px)", entry,
			   LIST_POISON2);
	if (prev->next != entry)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER,
			   "list_del corruption. prev->next should be %px, but was %px. (prev=%px)", entry, prev->next,
			   prev);
	if (next->prev != entry)
		side_fault(SIDE_FAULT_BUG, SIDE_CALLER,
			   "list_del corruption. next->prev should be %px, but was %px. (next=%px)", entry, next->prev,
			   next);
	return true;
}
