// SPDX-License-Identifier: GPL-2.0-only
/* Dereferences a NULL pointer: a memory fault in driver code. */
#include <linux/module.h>

static int *volatile target;

static int __init side_test_null_init(void)
{
	*target = 1;
	pr_info("side_test_null: survived\n");
	return 0;
}

module_init(side_test_null_init);
MODULE_LICENSE("GPL");
