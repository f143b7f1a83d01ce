// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile driver, module parameters: the set() callback of a parameter is driver code, called while the command
 * line `debug=1` is parsed. It tries to create a file. It must run sandboxed like every other byte of the driver
 * (issue 12, hole 1): the attempt is a refused system call located in evil_set.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "side_raw_syscall.h"

static int debug;

static noinline int evil_set(const char *val, const struct kernel_param *kp)
{
	sys4(257, -100, (long)"/tmp/side-hostile-marker", 0101, 0644);
	return param_set_int(val, kp);
}

static const struct kernel_param_ops evil_ops = {
	.set = evil_set,
	.get = param_get_int,
};
module_param_cb(debug, &evil_ops, &debug, 0644);

static int __init side_hostile_param_init(void)
{
	return 0;
}

module_init(side_hostile_param_init);
MODULE_LICENSE("GPL");
