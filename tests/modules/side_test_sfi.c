// SPDX-License-Identifier: GPL-2.0-only
/*
 * --isolation sfi: one attack per load, chosen by `attack`, against `target` (an address the test gives):
 *   none     behaves: writes its own heap objects, stack, globals, vmalloc and per-cpu memory through the kernel's
 *            string functions, calls through a valid function pointer, and frees what it allocated;
 *   heap     memcpy()s over `target` (side's own heap, or another driver's memory as side maps it);
 *   kapi     memset()s `target` (the kernel-API layer's data);
 *   freed    allocates, frees, then memset()s the freed object (kept in side_test_sfi_freed);
 * (the copies call __memcpy/__memset: the compiler inlines memcpy() as `rep movsb`, which only the translator
 * checks);
 *   branch   calls through a function pointer into the middle of a function;
 *   return   overwrites its own return address with another function's entry;
 *   syscall  makes a raw getpid system call;
 *   store    a plain store to `target` (checked only once the driver's code is translated).
 * Each attack but `none` is a driver fault in sfi mode, caught before the write, branch or call happens.
 */
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/vmalloc.h>

static char *attack = "none";
module_param(attack, charp, 0444);
static unsigned long target;
module_param(target, ulong, 0444);
static unsigned long len = 64;
module_param(len, ulong, 0444);
/* How far into the function the bad branch lands: a parameter, so that no relocation names that address (the
 * translator refuses a module whose relocations point inside an instruction). */
static unsigned long skip = 4;
module_param(skip, ulong, 0444);

void *side_test_sfi_freed;
char side_test_sfi_global[32];
int side_test_sfi_result;

static noinline int side_test_sfi_add(int x)
{
	return x + 1;
}

/* Overwrites the return address ([rbp + 8]: this function keeps a frame pointer) with another function's entry. */
static noinline int side_test_sfi_smash(unsigned long to)
{
	unsigned long *frame = __builtin_frame_address(0);

	WRITE_ONCE(frame[1], to);
	return 0;
}

static int side_test_sfi_behave(void)
{
	int (*volatile fn)(int) = side_test_sfi_add;
	char *p = kmalloc(len, GFP_KERNEL), *v = vmalloc(4096);
	int __percpu *pc = alloc_percpu(int);
	char local[48];
	int ret = -ENOMEM;

	if (!p || !v || !pc)
		goto out;
	__memset(p, 0x11, len);
	__memcpy(local, p, sizeof(local));
	strscpy(side_test_sfi_global, "own global", sizeof(side_test_sfi_global));
	snprintf(v, 4096, "vmalloc %d", fn(41));
	memcpy(per_cpu_ptr(pc, 0), local, sizeof(int));
	ret = fn(41) == 42 && local[0] == 0x11 && !strcmp(v, "vmalloc 42") ? 0 : -EINVAL;
out:
	free_percpu(pc);
	vfree(v);
	kfree(p);
	return ret;
}

static int __init side_test_sfi_init(void)
{
	if (!strcmp(attack, "none"))
		return side_test_sfi_behave();
	if (!strcmp(attack, "heap")) {
		char bytes[64];

		memset(bytes, 0x5a, sizeof(bytes));
		__memcpy((void *)target, bytes, min_t(unsigned long, len, sizeof(bytes)));
	} else if (!strcmp(attack, "kapi")) {
		__memset((void *)target, 0, len);
	} else if (!strcmp(attack, "freed")) {
		side_test_sfi_freed = kzalloc(64, GFP_KERNEL);
		kfree(side_test_sfi_freed);
		__memset(side_test_sfi_freed, 0x5a, len);
	} else if (!strcmp(attack, "branch")) {
		int (*volatile fn)(int) = (void *)((char *)side_test_sfi_add + skip);

		side_test_sfi_result = fn(1);
	} else if (!strcmp(attack, "return")) {
		side_test_sfi_result = side_test_sfi_smash((unsigned long)side_test_sfi_add);
	} else if (!strcmp(attack, "syscall")) {
		long nr = 39; /* getpid */

		asm volatile("syscall" : "+a"(nr) : : "rcx", "r11", "memory");
		side_test_sfi_result = (int)nr;
	} else if (!strcmp(attack, "store")) {
		WRITE_ONCE(*(unsigned long *)target, 0x5a5a5a5a5a5a5a5aul);
	}
	pr_info("side_test_sfi: attack %s was not stopped\n", attack);
	return 0;
}

module_init(side_test_sfi_init);
MODULE_LICENSE("GPL");
