// SPDX-License-Identifier: GPL-2.0-only
/*
 * A hostile driver: its init tries one forbidden thing, chosen by the parameter `act`. Run only in a sandboxed
 * domain process, where each attempt must be refused and reported as a fault of this module.
 *   execve     run /bin/sh                       open     create a file in /tmp
 *   socket     open a network socket             kill     signal process 1
 *   ptrace     ask to be traced                  mmap     map memory writable and executable
 *   syscall    any other raw system call         write    store into memory outside the domain's (side's code)
 */
#include <linux/module.h>
#include <linux/string.h>

#include "side_raw_syscall.h"

static char *act = "";
module_param(act, charp, 0444);

static const char sh[] = "/bin/sh";
static const char marker[] = "/tmp/side-hostile-open-marker";

static int __init side_test_hostile_init(void)
{
	long ret = -1;

	if (!strcmp(act, "execve")) {
		const char *argv[] = { sh, NULL };
		ret = side_raw_syscall(59, (long)sh, (long)argv, 0, 0, 0, 0);
	} else if (!strcmp(act, "open")) {
		ret = side_raw_syscall(257, -100 /* AT_FDCWD */, (long)marker, 0101 /* O_WRONLY|O_CREAT */, 0644, 0, 0);
	} else if (!strcmp(act, "socket")) {
		ret = side_raw_syscall(41, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0, 0, 0, 0);
	} else if (!strcmp(act, "kill")) {
		ret = side_raw_syscall(62, 1, 0 /* only the permission check */, 0, 0, 0, 0);
	} else if (!strcmp(act, "ptrace")) {
		ret = side_raw_syscall(101, 0 /* PTRACE_TRACEME */, 0, 0, 0, 0, 0);
	} else if (!strcmp(act, "mmap")) {
		ret = side_raw_syscall(9, 0, 4096, 7 /* PROT_READ|WRITE|EXEC */, 0x22 /* MAP_PRIVATE|ANONYMOUS */, -1, 0);
	} else if (!strcmp(act, "syscall")) {
		ret = side_raw_syscall(110 /* getppid */, 0, 0, 0, 0, 0, 0);
	} else if (!strcmp(act, "write")) {
		/*
		 * The text of the program the domain runs in (side itself, a PIE at a random address, found through
		 * the return address of this init; never writable).
		 */
		*(volatile unsigned long *)__builtin_return_address(0) = 0xdeadbeef;
		ret = 0;
	} else {
		pr_err("side_test_hostile: unknown act '%s'\n", act);
		return -EINVAL;
	}
	pr_err("side_test_hostile: %s was not stopped (returned %ld)\n", act, ret);
	return 0;
}

module_init(side_test_hostile_init);
MODULE_LICENSE("GPL");
