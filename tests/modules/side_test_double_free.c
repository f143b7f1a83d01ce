// SPDX-License-Identifier: GPL-2.0-only
/* Frees the same allocation twice: an invalid argument to a kernel service, detected. */
#include <linux/module.h>
#include <linux/slab.h>

static int __init side_test_double_free_init(void)
{
	void *p = kmalloc(64, GFP_KERNEL);

	kfree(p);
	kfree(p);
	pr_info("side_test_double_free: survived\n");
	return 0;
}

module_init(side_test_double_free_init);
MODULE_LICENSE("GPL");
