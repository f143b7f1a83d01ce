// SPDX-License-Identifier: GPL-2.0-only
/*
 * Module references (kernel/module/main.c): a reference can be taken on a module that is not going away and pins
 * it. The loader leaves a module's refcnt at 0 where Linux starts at MODULE_REF_BASE (1); that base is never
 * dropped here, so the count below is the references the drivers took. A put without a get is Linux's WARN.
 */
#include <linux/module.h>

#include "kapi.h"

bool try_module_get(struct module *module)
{
	if (!module)
		return true;
	if (READ_ONCE(module->state) == MODULE_STATE_GOING)
		return false;
	atomic_inc(&module->refcnt);
	return true;
}

void __module_get(struct module *module)
{
	if (module)
		atomic_inc(&module->refcnt);
}

void module_put(struct module *module)
{
	if (!module)
		return;
	WARN_ON_ONCE(atomic_dec_if_positive(&module->refcnt) < 0);
}
