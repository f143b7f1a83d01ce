// SPDX-License-Identifier: GPL-2.0-only
/* Exports a function and a variable to side_test_user. */
#include <linux/module.h>

int side_test_base_value = 40;
EXPORT_SYMBOL(side_test_base_value);

int side_test_base_add(int a, int b)
{
	return a + b;
}
EXPORT_SYMBOL_GPL(side_test_base_add);

static int __init side_test_base_init(void)
{
	side_test_base_value++;
	pr_info("side_test_base: loaded\n");
	return 0;
}

static void __exit side_test_base_exit(void)
{
	pr_info("side_test_base: unloaded\n");
}

module_init(side_test_base_init);
module_exit(side_test_base_exit);
MODULE_LICENSE("GPL");
