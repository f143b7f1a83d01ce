// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device-register accesses of every shape the trap patcher rewrites, with exact instruction forms (inline
 * assembly), on a window ioremap()ped from the `phys` parameter. The host test calls the functions below by symbol
 * on virtual CPU 0 and checks what the device saw. Offsets are chosen by the test's fake device:
 *   0x10.. plain registers; 0x40 a counter that increments on every read; 0x44 fails when the test says so.
 */
#include <linux/io.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

static unsigned long phys;
module_param(phys, ulong, 0);

static void __iomem *hw;

/* One pass over every form. Returns a checksum of what was read; `out` receives the individual results. */
noinline void side_mmio_forms(u32 v, u64 *out)
{
	void __iomem *b = hw;
	u32 r32;
	u64 r64;
	u32 n = 3, m = 2;
	u8 zf;

	/* 4-byte load (3 bytes: 8b 47 10) followed by short relocatable instructions. */
	asm volatile("movl 0x10(%[b]), %[r]\n\taddl $1, %[r]\n\taddl $2, %[r]"
		     : [r] "=&r"(r32) : [b] "r"(b) : "cc", "memory");
	out[0] = r32;
	/* 4-byte store of a register, then a nop-sized tail. */
	asm volatile("movl %[v], 0x14(%[b])\n\tnop\n\tnop\n\tnop" : : [v] "r"(v), [b] "r"(b) : "memory");
	/* 2-byte load (66 8b ..) into a 16-bit register: the upper bits of the register must survive. */
	r32 = 0xabcd0000;
	asm volatile("movw 0x18(%[b]), %w[r]\n\tnop\n\tnop" : [r] "+r"(r32) : [b] "r"(b) : "memory");
	out[1] = r32;
	/* 1-byte store of an immediate. */
	asm volatile("movb $0x5a, 0x1c(%[b])\n\tnop\n\tnop" : : [b] "r"(b) : "memory");
	/* movzx of a byte. */
	asm volatile("movzbl 0x20(%[b]), %[r]\n\tnop\n\tnop" : [r] "=r"(r32) : [b] "r"(b) : "memory");
	out[2] = r32;
	/* Read-modify-write `or` (7 bytes, no overlapped instruction); ZF must come back from the device's value. */
	asm volatile("orl %[m], 0x24(%[b])\n\tsetz %[z]" : [z] "=r"(zf) : [m] "r"(v & 0x100), [b] "r"(b) : "cc", "memory");
	out[3] = zf;
	/* 2-byte access followed by 2-byte instructions (mov (%rax),%eax style). */
	asm volatile("movl (%[b]), %[r]\n\tmovl %[r], %%ecx\n\taddl %%ecx, %[r]"
		     : [r] "=&r"(r32) : [b] "r"(b + 0x28) : "rcx", "cc", "memory");
	out[4] = r32;
	/*
	 * Branch targets at the access (so no jump may end with it) and 2 bytes after it (so none may start with it):
	 * must be refused, keeps trapping. Two reads, each followed by three adds.
	 */
	asm volatile("1:\tmovl (%[b]), %[r]\n"
		     "2:\taddl $1, %[r]\n\t"
		     "decl %[n]\n\t"
		     "jnz 2b\n\t"
		     "movl $3, %[n]\n\t"
		     "decl %[m]\n\t"
		     "jnz 1b"
		     : [r] "=&r"(r32), [n] "+r"(n), [m] "+r"(m) : [b] "r"(b + 0x2c) : "cc", "memory");
	out[5] = r32;
	/*
	 * A branch target right after a 2-byte access, but plain instructions before it: the jump ends with the access
	 * (overlapping the add that computes its address).
	 */
	n = 3;
	asm volatile("movq %[b], %%rax\n\t"
		     "addq $0x30, %%rax\n\t"
		     "movl (%%rax), %[r]\n"
		     "3:\taddl $1, %[r]\n\t"
		     "decl %[n]\n\t"
		     "jnz 3b"
		     : [r] "=&r"(r32), [n] "+r"(n) : [b] "r"(b) : "rax", "cc", "memory");
	out[7] = r32;
	/* 8-byte load from the counter; its overlapped instruction is itself a device access (traps in the trampoline). */
	asm volatile("movq (%[b]), %[r]\n\tmovl %k[r], 0x8(%[b])\n\tnop" : [r] "=&r"(r64) : [b] "r"(b + 0x40) : "memory");
	out[6] = r64;
}

/* `n` reads of the counter and writes of the loop index to 0x80 + 4 * cpu, from one site each. */
noinline void side_mmio_hammer(int n, int cpu)
{
	int i;
	u32 r;

	for (i = 0; i < n; i++) {
		u32 once = 1;

		/* The counter read is a prefix site (a branch target right behind it). */
		asm volatile("movq %[b], %%rax\n\t"
			     "addq $0x40, %%rax\n\t"
			     "movl (%%rax), %[r]\n"
			     "4:\tdecl %[once]\n\t"
			     "jnz 4b"
			     : [r] "=&r"(r), [once] "+r"(once) : [b] "r"(hw) : "rax", "cc", "memory");
		asm volatile("movl %[i], (%[b])\n\tnop\n\tnop\n\tnop" : : [i] "r"(i), [b] "r"(hw + 0x80 + 4 * cpu) : "memory");
	}
}

noinline u32 side_mmio_read_failing(void)
{
	u32 r;

	asm volatile("movl 0x44(%[b]), %[r]\n\tnop\n\tnop\n\tnop" : [r] "=r"(r) : [b] "r"(hw) : "memory");
	return r;
}

static int worker_n;
static atomic_t worker_state = ATOMIC_INIT(0);

static void worker_fn(struct work_struct *w)
{
	atomic_set(&worker_state, 1);
	while (atomic_read(&worker_state) == 1)
		cpu_relax();
	side_mmio_hammer(worker_n, raw_smp_processor_id());
	atomic_set(&worker_state, 3);
}
static DECLARE_WORK(worker, worker_fn);

/* Hammers the same sites on this vCPU and on the workqueue's at once; returns 0 when both finished. */
noinline int side_mmio_hammer_both(int n)
{
	worker_n = n;
	atomic_set(&worker_state, 0);
	schedule_work(&worker);
	while (atomic_read(&worker_state) != 1)
		cpu_relax();
	atomic_set(&worker_state, 2);
	side_mmio_hammer(n, raw_smp_processor_id());
	flush_work(&worker);
	return atomic_read(&worker_state) == 3 ? 0 : -1;
}

/* The test's I/O BAR: a data port that logs what is written, and the read counter (as the memory BAR's 0x40). */
#define SIDE_PORT_DATA 0xc060
#define SIDE_PORT_COUNTER 0xc040
static u32 side_module_buffer[4] = { 1, 2, 3, 4 };

/*
 * String port I/O as 8390's block transfers do it: rep outsl from kmalloc memory and from a buffer on the stack,
 * then rep insl into both. `out` receives the n + 8 values insl stored, heap first. 0, or -ENOMEM.
 */
noinline int side_mmio_string_io(int n, u32 *out)
{
	u32 stack[8];
	u32 *heap = kmalloc_array(n, sizeof(u32), GFP_KERNEL);
	int i;

	if (!heap)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		heap[i] = 0x1000 + i;
	for (i = 0; i < 8; i++)
		stack[i] = 0x2000 + i;
	outsl(SIDE_PORT_DATA, heap, n);
	outsl(SIDE_PORT_DATA, stack, 8);
	insl(SIDE_PORT_COUNTER, heap, n);
	insl(SIDE_PORT_COUNTER, stack, 8);
	memcpy(out, heap, n * sizeof(u32));
	memcpy(out + n, stack, sizeof(stack));
	kfree(heap);
	return 0;
}

/* rep outsl from the module's own data, which is neither the arena nor a stack: must not reach the port. */
noinline void side_mmio_string_io_wild(void)
{
	outsl(SIDE_PORT_DATA, side_module_buffer, ARRAY_SIZE(side_module_buffer));
}

static int __init side_test_mmio_init(void)
{
	hw = ioremap(phys, 0x1000);
	return hw ? 0 : -ENOMEM;
}

static void __exit side_test_mmio_exit(void)
{
	iounmap(hw);
}

module_init(side_test_mmio_init);
module_exit(side_test_mmio_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("side test: device-register accesses of many forms");
