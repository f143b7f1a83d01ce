// SPDX-License-Identifier: GPL-2.0-only
/*
 * A hostile driver against the domain's confinement (resources and the narrowed system calls): its init makes one
 * attempt, chosen by `act`. Each must end as a refused call (a fault of this module), a refused allocation
 * (init fails with -ENOMEM), or the domain alone being killed; "was not stopped" means the attempt succeeded.
 *   stderr       write an escape sequence and a forged "side:" line to fd 2
 *   futex_pi     FUTEX_LOCK_PI                    requeue      FUTEX_CMP_REQUEUE
 *   madv_remove  MADV_REMOVE on arena memory (punches a hole in the shared memfd)
 *   ftruncate    shrink the arena's descriptor    wx           make its own text writable and executable
 *   text_rw      make its own text writable (not executable) and go on running it
 *   mmap_huge    one 1 TiB mapping                mmap_loop    1 MiB mappings, touched, up to 2 GiB
 *   vmalloc_loop vmalloc 1 MiB, touched, up to 2 GiB    kmalloc_loop   kmalloc until it fails
 *   clone        a thread (CLONE_VM|CLONE_THREAD)  fork         a process
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

#include "side_raw_syscall.h"

static char *act = "";
module_param(act, charp, 0444);

#define SZ_1M_BYTES (1L << 20)
#define LOOP_CAP (2048L) /* MiB: far beyond a domain's limits, small enough for an unconfined run to survive */

static const char forged[] = "\x1b]0;pwned\x07 side: forged";
static u32 futex_word;

/* Touches 1 MiB blocks until the allocator refuses; returns how many it got. */
static long touch_loop(bool use_mmap)
{
	long n;

	for (n = 0; n < LOOP_CAP; n++) {
		char *p;

		if (use_mmap) {
			long r = side_raw_syscall(9, 0, SZ_1M_BYTES, 3 /* PROT_READ|WRITE */, 0x22 /* PRIVATE|ANON */, -1, 0);
			p = r < 0 && r > -4096 ? NULL : (char *)r;
		} else {
			p = vmalloc(SZ_1M_BYTES);
		}
		if (!p)
			return n;
		memset(p, 0x5a, SZ_1M_BYTES);
	}
	return n;
}

static long kmalloc_loop(void)
{
	long n = 0;

	while (n < LOOP_CAP * 16 && kmalloc(64 * 1024, GFP_KERNEL))
		n++;
	return n < LOOP_CAP * 16 ? -12 : n;
}

static int __init side_test_hostile_confine_init(void)
{
	long ret = -1;

	if (!strcmp(act, "stderr")) {
		ret = side_raw_syscall(1, 2, (long)forged, sizeof(forged) - 1, 0, 0, 0);
	} else if (!strcmp(act, "futex_pi")) {
		ret = side_raw_syscall(202, (long)&futex_word, 6 /* FUTEX_LOCK_PI */, 0, 0, 0, 0);
	} else if (!strcmp(act, "requeue")) {
		ret = side_raw_syscall(202, (long)&futex_word, 4 /* FUTEX_CMP_REQUEUE */, 1, 1, (long)&futex_word + 4, 0);
	} else if (!strcmp(act, "madv_remove")) {
		unsigned long page = __get_free_pages(GFP_KERNEL, 0);

		ret = side_raw_syscall(28, (long)page, 4096, 9 /* MADV_REMOVE */, 0, 0, 0);
	} else if (!strcmp(act, "ftruncate")) {
		ret = side_raw_syscall(77, 4 /* the arena's descriptor */, 0, 0, 0, 0, 0);
	} else if (!strcmp(act, "wx")) {
		long text = (long)side_test_hostile_confine_init & ~4095L;

		ret = side_raw_syscall(10, text, 4096, 7 /* PROT_READ|WRITE|EXEC */, 0, 0, 0);
	} else if (!strcmp(act, "text_rw")) {
		/* Its own code made writable (allowed: not executable), then run: a fault, never retried forever. */
		long text = (long)side_test_hostile_confine_init & ~4095L;

		ret = side_raw_syscall(10, text, 4096, 3 /* PROT_READ|WRITE */, 0, 0, 0);
	} else if (!strcmp(act, "mmap_huge")) {
		ret = side_raw_syscall(9, 0, 1L << 40, 3, 0x4022 /* PRIVATE|ANON|NORESERVE */, -1, 0);
	} else if (!strcmp(act, "mmap_loop") || !strcmp(act, "vmalloc_loop")) {
		ret = touch_loop(!strcmp(act, "mmap_loop"));
		if (ret < LOOP_CAP) {
			pr_info("side_test_hostile_confine: allocation refused after %ld MiB\n", ret);
			return -ENOMEM;
		}
	} else if (!strcmp(act, "kmalloc_loop")) {
		ret = kmalloc_loop();
		if (ret < 0)
			return -ENOMEM;
	} else if (!strcmp(act, "clone")) {
		ret = side_raw_syscall(56, 0x10900 /* CLONE_VM|CLONE_THREAD|CLONE_SIGHAND */, 0, 0, 0, 0, 0);
	} else if (!strcmp(act, "fork")) {
		ret = side_raw_syscall(57, 0, 0, 0, 0, 0, 0);
		if (ret == 0)
			side_raw_syscall(60, 0, 0, 0, 0, 0, 0); /* a child that got this far leaves at once */
	} else {
		pr_err("side_test_hostile_confine: unknown act '%s'\n", act);
		return -EINVAL;
	}
	pr_err("side_test_hostile_confine: %s was not stopped (returned %ld)\n", act, ret);
	return 0;
}

module_init(side_test_hostile_confine_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("side test: attempts against the domain's resource limits and system call filter");
