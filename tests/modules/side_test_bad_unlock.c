// SPDX-License-Identifier: GPL-2.0-only
/* Unlocks a mutex it never locked: detected. */
#include <linux/module.h>
#include <linux/mutex.h>

static DEFINE_MUTEX(mtx);

static int __init side_test_bad_unlock_init(void)
{
	mutex_unlock(&mtx);
	pr_info("side_test_bad_unlock: survived\n");
	return 0;
}

module_init(side_test_bad_unlock_init);
MODULE_LICENSE("GPL");
