// SPDX-License-Identifier: GPL-2.0-only
/*
 * --isolation sfi: imports, by the names the host would look up as side_kapi_sfi_<name>, the layer's own sfi entry
 * points: the crossing into driver code (whose stack-pointer bookkeeping a driver call would corrupt) and the
 * per-cpu crossing state. Neither is a kernel function: the load must be refused.
 */
#include <linux/module.h>

void enter_driver(void);
extern unsigned long crossing;

static int __init side_test_sfi_entry_init(void)
{
	enter_driver();
	return crossing ? 0 : 1;
}

module_init(side_test_sfi_entry_init);
MODULE_LICENSE("GPL");
