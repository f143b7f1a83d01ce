// SPDX-License-Identifier: GPL-2.0-only
/* printk levels, continuation lines and the kernel's %p extensions. */
#include <linux/module.h>
#include <linux/printk.h>

static int side_test_printk_marker(void)
{
	return 42;
}

static int __init side_test_printk_init(void)
{
	static const u8 mac[6] = { 0x00, 0x1b, 0x21, 0x0a, 0xbc, 0xde };
	__be32 ip = cpu_to_be32(0xc0a80001);

	pr_info("side_test_printk: info %d %s\n", 7, "seven");
	pr_err("side_test_printk: error level\n");
	pr_info("side_test_printk: mac %pM ip %pI4\n", mac, &ip);
	pr_info("side_test_printk: symbol %pS\n", side_test_printk_marker);
	pr_info("side_test_printk: errptr %pe\n", ERR_PTR(-ENOMEM));
	pr_info("side_test_printk: cont");
	pr_cont(" one");
	pr_cont(" two\n");
	pr_info("side_test_printk: two\nlines\n");
	return side_test_printk_marker() == 42 ? 0 : -EIO;
}

module_init(side_test_printk_init);
MODULE_LICENSE("GPL");
