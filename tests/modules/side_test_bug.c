// SPDX-License-Identifier: GPL-2.0-only
/* BUG() is a driver fault: nothing after it runs. */
#include <linux/bug.h>
#include <linux/module.h>

static int side_test_bug_trigger = 1;
module_param_named(trigger, side_test_bug_trigger, int, 0444);

static int __init side_test_bug_init(void)
{
	BUG_ON(side_test_bug_trigger);
	pr_info("side_test_bug: survived BUG\n");
	return 0;
}

module_init(side_test_bug_init);
MODULE_LICENSE("GPL");
