// SPDX-License-Identifier: GPL-2.0-only
/*
 * What a driver asks of the platform a domain stands in for: it has no firmware tables (no DMI, no ACPI), so
 * nothing matches a DMI field and no device has an ACPI companion asking for D3 storage power-down; the null UUID;
 * and DO_ONCE's slow path, whose lock makes the once-function run exactly once (the static key that makes later
 * calls skip the slow path is never flipped here: the `done` flag alone still says "already done").
 */
#include <linux/acpi.h>
#include <linux/dmi.h>
#include <linux/jump_label.h>
#include <linux/once.h>
#include <linux/spinlock.h>
#include <linux/uuid.h>

#include "kapi.h"

const uuid_t uuid_null;
const guid_t guid_null;

/* dmi_match(): with no DMI table every field is unknown (NULL), which matches only a NULL string. */
bool dmi_match(enum dmi_field f, const char *str)
{
	return str == NULL;
}

const char *dmi_get_system_info(int field)
{
	return NULL;
}

/* acpi_storage_d3(): false for a device without an ACPI companion, and none has one. */
bool acpi_storage_d3(struct device *dev)
{
	return false;
}

static DEFINE_SPINLOCK(side_once_lock);

bool __do_once_start(bool *done, unsigned long *flags)
{
	spin_lock_irqsave(&side_once_lock, *flags);
	if (*done) {
		spin_unlock_irqrestore(&side_once_lock, *flags);
		return false;
	}
	return true;
}

void __do_once_done(bool *done, struct static_key_true *once_key, unsigned long *flags, struct module *mod)
{
	*done = true;
	spin_unlock_irqrestore(&side_once_lock, *flags);
}
