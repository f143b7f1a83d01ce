// SPDX-License-Identifier: GPL-2.0-only
/* Depends on side_test_base: uses its exported function and variable. */
#include <linux/module.h>

extern int side_test_base_value;
int side_test_base_add(int a, int b);

static int __init side_test_user_init(void)
{
	pr_info("side_test_user: sum=%d\n", side_test_base_add(side_test_base_value, 1));
	return 0;
}

module_init(side_test_user_init);
MODULE_LICENSE("GPL");
