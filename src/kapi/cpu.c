// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtual CPUs. Every host thread that runs driver code is one virtual CPU: its GS base points at its own per-cpu
 * area (the host sets it up and places the stack canary at %gs:40), so per-cpu variables, `current`, the preempt
 * count and smp_processor_id() work as in the kernel. Interrupts are a per-CPU virtual flag behind pv_ops.
 */
#include <linux/cc_platform.h>
#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <asm/paravirt_types.h>
#include <asm/cpu.h>
#include <asm/processor.h>

#include "kapi.h"

DEFINE_PER_CPU(struct task_struct *, current_task);
DEFINE_PER_CPU(int, __preempt_count) = INIT_PREEMPT_COUNT;
DEFINE_PER_CPU_READ_MOSTLY(int, cpu_number);
DEFINE_PER_CPU_READ_MOSTLY(unsigned long, this_cpu_off);
DEFINE_PER_CPU(unsigned long, side_virq_flags);

unsigned long __per_cpu_offset[NR_CPUS] __read_mostly;
unsigned int nr_cpu_ids __read_mostly = 1;
struct cpumask __cpu_possible_mask __read_mostly;
struct cpumask __cpu_online_mask __read_mostly;
struct cpumask __cpu_present_mask __read_mostly;
struct cpumask __cpu_active_mask __read_mostly;
atomic_t __num_online_cpus __read_mostly;
enum system_states system_state __read_mostly = SYSTEM_RUNNING;

/* Paravirt operations, implemented in thunks.S; each preserves every register but %rax. */
void side_pv_save_fl(void);
void side_pv_irq_disable(void);
void side_pv_irq_enable(void);
void side_pv_queued_spin_unlock(void);
void side_pv_unimplemented(void);
void side_pv_io_delay(void);

struct paravirt_patch_template pv_ops;
struct pv_info pv_info = { .name = "side" };

static int side_nr_cpus;

static void side_init_pv_ops(void)
{
	void **slot = (void **)&pv_ops;
	unsigned int i;

	pv_ops.irq.save_fl.func = side_pv_save_fl;
	pv_ops.irq.irq_disable.func = side_pv_irq_disable;
	pv_ops.irq.irq_enable.func = side_pv_irq_enable;
	pv_ops.lock.queued_spin_unlock.func = side_pv_queued_spin_unlock;
	pv_ops.cpu.io_delay = side_pv_io_delay;
	/* Any other operation is privileged (page tables, MSRs, halt): calling it is a driver fault, never a jump
	 * to address 0. */
	for (i = 0; i < sizeof(pv_ops) / sizeof(void *); i++)
		if (!slot[i])
			slot[i] = side_pv_unimplemented;
}

/*
 * The boot CPU's identification, from CPUID as identify_cpu() reads it (the instruction works in a domain; the
 * paravirtualised cpuid() would not). Only the hardware-defined feature words are filled: Linux's synthetic ones
 * (ART, constant TSC, ...) describe what the kernel's timekeeping found, which a domain's clock does not use.
 */
struct cpuinfo_x86 boot_cpu_data __read_mostly;

/* The fields of a CPUID leaf 1 signature, extended family and model included (arch/x86/lib/cpu.c). */
unsigned int x86_family(unsigned int sig)
{
	unsigned int family = (sig >> 8) & 0xf;

	return family == 0xf ? family + ((sig >> 20) & 0xff) : family;
}

unsigned int x86_model(unsigned int sig)
{
	unsigned int model = (sig >> 4) & 0xf;

	return x86_family(sig) >= 0x6 ? model + (((sig >> 16) & 0xf) << 4) : model;
}

unsigned int x86_stepping(unsigned int sig)
{
	return sig & 0xf;
}

static void side_identify_cpu(struct cpuinfo_x86 *c)
{
	unsigned int eax, ebx, ecx, edx;

	eax = 0;
	ecx = 0;
	native_cpuid(&eax, &ebx, &ecx, &edx);
	c->cpuid_level = eax;
	memcpy(c->x86_vendor_id, &ebx, 4);
	memcpy(c->x86_vendor_id + 4, &edx, 4);
	memcpy(c->x86_vendor_id + 8, &ecx, 4);
	if (!strcmp(c->x86_vendor_id, "GenuineIntel"))
		c->x86_vendor = X86_VENDOR_INTEL;
	else if (!strcmp(c->x86_vendor_id, "AuthenticAMD"))
		c->x86_vendor = X86_VENDOR_AMD;
	else if (!strcmp(c->x86_vendor_id, "HygonGenuine"))
		c->x86_vendor = X86_VENDOR_HYGON;
	else
		c->x86_vendor = X86_VENDOR_UNKNOWN;
	eax = 1;
	ecx = 0;
	native_cpuid(&eax, &ebx, &ecx, &edx);
	c->x86 = x86_family(eax);
	c->x86_model = x86_model(eax);
	c->x86_stepping = x86_stepping(eax);
	c->x86_capability[CPUID_1_EDX] = edx;
	c->x86_capability[CPUID_1_ECX] = ecx;
	c->x86_clflush_size = ((ebx >> 8) & 0xff) * 8;
	c->x86_cache_alignment = c->x86_clflush_size;
	if (c->cpuid_level >= 7) {
		eax = 7;
		ecx = 0;
		native_cpuid(&eax, &ebx, &ecx, &edx);
		c->x86_capability[CPUID_7_0_EBX] = ebx;
		c->x86_capability[CPUID_7_ECX] = ecx;
		c->x86_capability[CPUID_7_EDX] = edx;
	}
	c->x86_phys_bits = 36;
	c->x86_virt_bits = 48;
}

int side_kapi_init(unsigned int nr_cpus, const unsigned long *percpu_bases)
{
	unsigned int cpu;
	int err;

	if (nr_cpus == 0 || nr_cpus > NR_CPUS)
		return -EINVAL;
	side_nr_cpus = nr_cpus;
	nr_cpu_ids = nr_cpus;
	side_identify_cpu(&boot_cpu_data);
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		__per_cpu_offset[cpu] = percpu_bases[cpu];
		cpumask_set_cpu(cpu, &__cpu_possible_mask);
		cpumask_set_cpu(cpu, &__cpu_present_mask);
		cpumask_set_cpu(cpu, &__cpu_online_mask);
		cpumask_set_cpu(cpu, &__cpu_active_mask);
	}
	atomic_set(&__num_online_cpus, nr_cpus);
	side_init_pv_ops();
	side_kapi_printk_init();
	err = side_kapi_page_init();
	if (err)
		return err;
	err = side_kapi_slab_init();
	if (err)
		return err;
	side_kapi_time_init();
	return 0;
}

int side_kapi_cpu_init(unsigned int cpu)
{
	struct task_struct *task;

	if (cpu >= (unsigned int)side_nr_cpus)
		return -EINVAL;
	this_cpu_write(cpu_number, cpu);
	this_cpu_write(this_cpu_off, __per_cpu_offset[cpu]);
	/* Driver entry points start in process context with interrupts enabled. */
	this_cpu_write(__preempt_count, PREEMPT_ENABLED);
	this_cpu_write(side_virq_flags, X86_EFLAGS_IF);

	task = kzalloc(sizeof(*task), GFP_KERNEL);
	if (!task)
		return -ENOMEM;
	task->pid = cpu + 1;
	task->tgid = task->pid;
	task->__state = TASK_RUNNING;
	task->flags = PF_KTHREAD;
	task->prio = task->static_prio = task->normal_prio = DEFAULT_PRIO;
	snprintf(task->comm, sizeof(task->comm), "side/%u", cpu);
	this_cpu_write(current_task, task);
	return 0;
}

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("side kernel-API layer");

/* Dynamic per-cpu memory: an offset valid in every CPU's area, zeroed on every CPU. */
void __percpu *__alloc_percpu_gfp(size_t size, size_t align, gfp_t gfp)
{
	unsigned long offset = side_host_percpu_alloc(size, align);

	return offset ? (void __percpu *)offset : NULL;
}

void __percpu *__alloc_percpu(size_t size, size_t align)
{
	return __alloc_percpu_gfp(size, align, GFP_KERNEL);
}

void free_percpu(void __percpu *ptr)
{
	if (ptr)
		side_host_percpu_free((unsigned long)ptr, SIDE_CALLER);
}

/* Confidential-computing attributes (memory encryption, guest state protection): a domain's memory is plain arena
 * memory that its devices reach by identity DMA, so none of them holds. */
bool cc_platform_has(enum cc_attr attr)
{
	return false;
}
