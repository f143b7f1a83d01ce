// SPDX-License-Identifier: GPL-2.0-only
/* Imports symbols no kernel provides: the load is refused, or, when allowed, calling one is a driver fault. */
#include <linux/module.h>

void side_test_no_such_function(void);
extern int side_test_no_such_variable;

static int call_it = 1;
module_param(call_it, int, 0444);

static int __init side_test_unknown_init(void)
{
	if (call_it)
		side_test_no_such_function();
	else
		pr_info("side_test_unknown: %d\n", side_test_no_such_variable);
	return 0;
}

module_init(side_test_unknown_init);
MODULE_LICENSE("GPL");
