// SPDX-License-Identifier: GPL-2.0-only
/* WARN() reports and continues; WARN_ON_ONCE reports once. */
#include <linux/bug.h>
#include <linux/module.h>

static noinline int side_test_warn_twice(int i)
{
	return WARN_ON_ONCE(i >= 0);
}

static int __init side_test_warn_init(void)
{
	int hits = 0;

	if (WARN(1, "side_test_warn: warning number %d\n", 1))
		hits++;
	hits += side_test_warn_twice(1);
	hits += side_test_warn_twice(2);
	pr_info("side_test_warn: continued after %d warnings\n", hits);
	return hits == 3 ? 0 : -EIO;
}

module_init(side_test_warn_init);
MODULE_LICENSE("GPL");
