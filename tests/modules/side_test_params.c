// SPDX-License-Identifier: GPL-2.0-only
/* Module parameters of every common type, printed by init. */
#include <linux/module.h>
#include <linux/moduleparam.h>

static int number = 1;
module_param(number, int, 0444);
MODULE_PARM_DESC(number, "An integer");
static unsigned int unumber = 2;
module_param(unumber, uint, 0444);
static bool flag;
module_param(flag, bool, 0444);
static char *word = "default";
module_param(word, charp, 0444);
MODULE_PARM_DESC(word, "A string");
static int list[4] = { 9, 9, 9, 9 };
static int list_count;
module_param_array(list, int, &list_count, 0444);
MODULE_PARM_DESC(list, "Up to four integers");

static int __init side_test_params_init(void)
{
	pr_info("side_test_params: number=%d unumber=%u flag=%d word=%s list=%d:%d,%d,%d,%d\n", number, unumber, flag,
		word, list_count, list[0], list[1], list[2], list[3]);
	return 0;
}

module_init(side_test_params_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("side test: module parameters");
