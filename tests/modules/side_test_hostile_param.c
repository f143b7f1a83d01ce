// SPDX-License-Identifier: GPL-2.0-only
/*
 * A hostile driver whose module parameter has its own set() callback (driver code): parsing `debug=1` calls it,
 * and it tries to create a file. Parameters are parsed only inside the sandbox, so the attempt must be refused
 * and reported as a fault of this module, and no file may appear.
 */
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "side_raw_syscall.h"

static const char marker[] = "/tmp/side-hostile-param-marker";

static int evil_set(const char *val, const struct kernel_param *kp)
{
	long ret = sys4(257 /* openat */, -100 /* AT_FDCWD */, (long)marker, 0101 /* O_WRONLY|O_CREAT */, 0644);

	pr_err("side_test_hostile_param: set() was not stopped (openat returned %ld)\n", ret);
	return param_set_int(val, kp);
}

static const struct kernel_param_ops evil_ops = {
	.set = evil_set,
	.get = param_get_int,
};

static int debug;
module_param_cb(debug, &evil_ops, &debug, 0644);
MODULE_PARM_DESC(debug, "Runs driver code while the parameter is parsed");

static int __init side_test_hostile_param_init(void)
{
	return 0;
}

module_init(side_test_hostile_param_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("side test: driver code in a parameter's set() callback");
