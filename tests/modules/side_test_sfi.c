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
 *   store    a plain store to `target` (checked only once the driver's code is translated);
 *   above    overwrites every word above its own return address, up to `len` bytes below the top of its driver
 *            stack half (its guard), with a function entry (where the layer's and side's frames were before they
 *            moved off the driver stack), then returns normally; the words it wrote are counted in
 *            side_test_sfi_result;
 *   layer    aims at the layer's return address itself: the layer's stack pointer at the crossing into the driver
 *            (read from the layer's per-cpu crossing state, at per-cpu offset `target`) + 16, and stores there
 *            (kept in side_test_sfi_seen);
 *   wait     marks its frame and waits in the layer for the mutex at `target`, which another thread holds until
 *            it has found the mark and overwritten the driver stack, then returns;
 *   length   __memset()s then __memcpy()s `len` bytes at a 64-byte object of its own (extreme lengths);
 *   rep      `rep stos` of `len` elements of `skip` bytes (1 or 8) at a 64-byte object of its own;
 *   ioread   ioread32_rep() of `len` words into a 64-byte object of its own (`target`: the register);
 *   race     `len` times stores through the pointer in side's slot at `target`, which another thread flips between
 *            NULL (its own global) and side's memory, reading it once per store (a check and its store use the
 *            same register);
 *   spill    marks its frame, then `len` times stores through r11 (pointing at its own global), the register a
 *            translated check spills below rsp and takes back, while another thread writes side's address over
 *            the stack below the mark.
 *   cross    calls the layer's strlen() `len` times (a crossing each way in sfi mode; its cost is timed) and
 *            counts the bytes in side_test_sfi_result;
 *   recross  the same, with its frame marked, while another thread writes a function entry over the stack below
 *            the mark: over the return address each call into the layer pushed;
 *   icall    `len` indirect calls of its own function through a pointer in its data (retpoline form: the checked
 *            thunk of the register), with its frame marked and its stack pointer at the calls after the mark, while
 *            another thread writes a function entry over the 64 bytes below the calls' return address (where the
 *            thunk kept the target it checked while it was checking it); the results' sum in side_test_sfi_result;
 *   hweight  the same with `len` calls of hweight64() (the layer's __sw_hweight64, called with every register
 *            live), while the other thread writes over the calls' return address and the 56 bytes below it;
 *   ts64, random, lock, timer  has the layer write through `target`: ktime_get_real_ts64() (a result),
 *            get_random_bytes() of `len` bytes (a buffer), spin_lock() and timer_setup() (kernel objects the export
 *            locks or initialises);
 *   stack    moves rsp to `target` (another vCPU's driver stack) and pushes there;
 *   walk     moves rsp down by 4088 bytes `len` times without touching the stack (each step below the translator's
 *            threshold for a check), then pushes.
 * Each attack but `none`, `above`, `spill`, `cross`, `recross`, `icall` and `hweight` is a driver fault in sfi mode,
 * caught before the write, branch or call happens (`length` and `rep` with a length of 0 write nothing and are none).
 */
#include <linux/bitops.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/timer.h>
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

/* A marker another thread finds a frame by, on the driver stack. */
#define SIDE_TEST_SFI_MARK 0x5eed5eed5eed5eedul
/* What that thread writes over the mark's second word once it stopped writing the stack. */
#define SIDE_TEST_SFI_ACK 0xac4ac4ac4ac4ac4aul

void *side_test_sfi_freed;
unsigned long side_test_sfi_seen;
unsigned long side_test_sfi_own[2];
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

/* Everything from just above `frame`'s return address to the top of the 1 MiB driver stack half. */
static noinline int side_test_sfi_above(unsigned long *frame)
{
	unsigned long top = ((unsigned long)frame & ~((2ul << 20) - 1)) + (1ul << 20) - len;
	unsigned long *p;
	int n = 0;

	for (p = frame + 2; (unsigned long)p < top; ++p, ++n)
		WRITE_ONCE(*p, (unsigned long)side_test_sfi_add);
	return n;
}

/* `target` is a mutex another thread holds: the driver waits in the layer's mutex_lock() until it lets go. */
static noinline int side_test_sfi_wait(void)
{
	volatile unsigned long mark = SIDE_TEST_SFI_MARK; /* a scalar: no stack-protector canary in this frame */

	mutex_lock((struct mutex *)target);
	mutex_unlock((struct mutex *)target);
	return mark == SIDE_TEST_SFI_MARK ? 0 : 1;
}

static noinline int side_test_sfi_rep(void)
{
	unsigned long *p = kzalloc(64, GFP_KERNEL), *d, n = len;

	if (!p)
		return -ENOMEM;
	d = p;
	if (skip == 8)
		asm volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0x5a5a5a5a5a5a5a5aul) : "memory");
	else
		asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0x5a) : "memory");
	kfree(p);
	return 0;
}

static noinline int side_test_sfi_length(void)
{
	char *p = kzalloc(64, GFP_KERNEL), bytes[64] = {};

	if (!p)
		return -ENOMEM;
	__memset(p, 0x5a, len);
	__memcpy(p, bytes, len);
	kfree(p);
	return 0;
}

/* ioread32_rep() of `len` words into a 64-byte object of its own, from a register that is no device's (the
 * checked variant refuses the range before the export looks at the register). */
static noinline int side_test_sfi_ioread(void)
{
	char *p = kzalloc(64, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	ioread32_rep((void __iomem *)target, p, len);
	kfree(p);
	return 0;
}

/* `target` is side's slot of the pointer to store through: NULL for this module's own global. */
static noinline void side_test_sfi_race(void)
{
	unsigned long *const *slot = (unsigned long *const *)target, i;

	for (i = 0; i < len; ++i) {
		unsigned long *p = READ_ONCE(*slot);

		WRITE_ONCE(*(p ? p : &side_test_sfi_own[0]), i);
	}
}

/* The same store through r11, the register a translated check spills below rsp and takes back. */
static noinline void side_test_sfi_spill(void)
{
	volatile unsigned long mark[2] = {SIDE_TEST_SFI_MARK, SIDE_TEST_SFI_MARK};
	unsigned long i;

	for (i = 0; i < len; ++i) {
		register unsigned long *p asm("r11") = &side_test_sfi_own[i & 1];

		asm volatile("movq %1, (%0)" : : "r"(p), "r"(i) : "memory");
	}
	/* The race is the loop's: the stack below the mark is not written once the other thread says it stopped
	 * (SIDE_TEST_SFI_ACK in mark[1]), so the calls after this one are not raced (a bounded wait). */
	mark[0] = 0;
	for (i = 0; mark[1] != SIDE_TEST_SFI_ACK && i < 2000000000ul; ++i)
		;
}

static noinline int side_test_sfi_cross(void)
{
	const char *volatile s = "crossing";
	unsigned long i, n = 0;

	for (i = 0; i < len; ++i)
		n += strlen(s);
	return (int)n;
}

static const char *side_test_sfi_text = "crossing";

/* side_test_sfi_cross() with a marked frame, and nothing of its own below the mark but the return addresses its
 * calls push: everything it keeps across the calls is in callee-saved registers, and it waits for the other
 * thread's SIDE_TEST_SFI_ACK after the loop, as side_test_sfi_spill() does. */
static noinline int side_test_sfi_recross(void)
{
	volatile unsigned long mark[2] = {SIDE_TEST_SFI_MARK, SIDE_TEST_SFI_MARK};
	unsigned long i, n = 0;

	for (i = 0; i < len; ++i)
		n += strlen(READ_ONCE(side_test_sfi_text));
	mark[0] = 0;
	for (i = 0; mark[1] != SIDE_TEST_SFI_ACK && i < 2000000000ul; ++i)
		;
	return (int)n;
}

static int (*volatile side_test_sfi_callee)(int) = side_test_sfi_add;
/* 32 bits set; 33 with the lowest flipped. */
static volatile unsigned long side_test_sfi_bits = 0xf0f0f0f0f0f0f0f0ul;

/* side_test_sfi_recross() with its stack pointer at the calls marked too, and other calls: indirect calls of the
 * module's own function (`icall`) or hweight64() (`hweight`: arch_hweight.h's asm call of the layer's
 * __sw_hweight64, which keeps every register, so that in sfi mode it goes through a stub that keeps them too). */
static noinline int side_test_sfi_marked_calls(bool hweight)
{
	volatile unsigned long mark[3];
	unsigned long i, sp;
	int n = 0;

	/* The stack pointer the calls are made at (the frame is fixed), where the other thread finds it. */
	asm volatile("movq %%rsp, %0" : "=r"(sp));
	mark[2] = sp;
	mark[1] = SIDE_TEST_SFI_MARK;
	mark[0] = SIDE_TEST_SFI_MARK;
	for (i = 0; i < len; ++i)
		n += hweight ? (int)hweight64(side_test_sfi_bits ^ (i & 1)) : side_test_sfi_callee((int)(i & 1));
	mark[0] = 0;
	for (i = 0; mark[1] != SIDE_TEST_SFI_ACK && i < 2000000000ul; ++i)
		;
	return n;
}

/* rsp moved to `target` and a push there; rsp put back (checked too) if that was allowed. */
static noinline void side_test_sfi_stack(void)
{
	asm volatile("movq %%rsp, %%rax\n\t"
		     "movq %0, %%rsp\n\t"
		     "pushq $0\n\t"
		     "movq %%rax, %%rsp"
		     : : "r"(target) : "rax", "memory");
}

/* `len` steps of 4088 bytes down, no access in between, then a push. */
static noinline void side_test_sfi_walk(void)
{
	unsigned long n = len;

	asm volatile("movq %%rsp, %%rax\n\t"
		     "1: subq $4088, %%rsp\n\t"
		     "decq %0\n\t"
		     "jnz 1b\n\t"
		     "pushq $0\n\t"
		     "movq %%rax, %%rsp"
		     : "+c"(n) : : "rax", "memory");
}

static DEFINE_SPINLOCK(side_test_sfi_lock);
static struct timer_list side_test_sfi_timer;

static void side_test_sfi_tick(struct timer_list *t)
{
}

static int side_test_sfi_behave(void)
{
	int (*volatile fn)(int) = side_test_sfi_add;
	char *p = kmalloc(len, GFP_KERNEL), *v = vmalloc(4096);
	int __percpu *pc = alloc_percpu(int);
	char local[48];
	struct timespec64 ts;
	int ret = -ENOMEM;

	if (!p || !v || !pc)
		goto out;
	/* The checked exports that write through its pointers, at its own memory. */
	ktime_get_real_ts64(&ts);
	get_random_bytes(p, len);
	spin_lock(&side_test_sfi_lock);
	spin_unlock(&side_test_sfi_lock);
	timer_setup(&side_test_sfi_timer, side_test_sfi_tick, 0);
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
	} else if (!strcmp(attack, "above")) {
		/* Above init's own frame: init is what the layer called. */
		side_test_sfi_result = side_test_sfi_above(__builtin_frame_address(0));
		return 0;
	} else if (!strcmp(attack, "layer")) {
		unsigned long layer_sp, *slot;

		/* `target`: the per-cpu offset of the layer's crossing state (driver_sp, layer_sp, ...), which a driver
		 * can read like any memory. */
		asm volatile("movq %%gs:(%1), %0" : "=r"(layer_sp) : "r"(target + 8));
		slot = (unsigned long *)(layer_sp + 16);

		WRITE_ONCE(side_test_sfi_seen, (unsigned long)slot);
		WRITE_ONCE(*slot, (unsigned long)side_test_sfi_add);
	} else if (!strcmp(attack, "wait")) {
		return side_test_sfi_wait();
	} else if (!strcmp(attack, "length")) {
		return side_test_sfi_length();
	} else if (!strcmp(attack, "rep")) {
		return side_test_sfi_rep();
	} else if (!strcmp(attack, "ioread")) {
		return side_test_sfi_ioread();
	} else if (!strcmp(attack, "race")) {
		side_test_sfi_race();
		return 0;
	} else if (!strcmp(attack, "cross")) {
		side_test_sfi_result = side_test_sfi_cross();
		return 0;
	} else if (!strcmp(attack, "spill")) {
		side_test_sfi_spill();
		return 0;
	} else if (!strcmp(attack, "recross")) {
		side_test_sfi_result = side_test_sfi_recross();
		return 0;
	} else if (!strcmp(attack, "icall") || !strcmp(attack, "hweight")) {
		side_test_sfi_result = side_test_sfi_marked_calls(!strcmp(attack, "hweight"));
		return 0;
	} else if (!strcmp(attack, "ts64")) {
		ktime_get_real_ts64((struct timespec64 *)target);
	} else if (!strcmp(attack, "random")) {
		get_random_bytes((void *)target, len);
	} else if (!strcmp(attack, "lock")) {
		spin_lock((spinlock_t *)target);
		spin_unlock((spinlock_t *)target);
	} else if (!strcmp(attack, "timer")) {
		timer_setup((struct timer_list *)target, side_test_sfi_tick, 0);
	} else if (!strcmp(attack, "stack")) {
		side_test_sfi_stack();
	} else if (!strcmp(attack, "walk")) {
		side_test_sfi_walk();
	}
	pr_info("side_test_sfi: attack %s was not stopped\n", attack);
	return 0;
}

module_init(side_test_sfi_init);
MODULE_LICENSE("GPL");
