// SPDX-License-Identifier: GPL-2.0-only
/* Per-cpu variables, alloc_percpu, smp_processor_id() and current. */
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/smp.h>

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			pr_err("side_test_percpu: check failed: %s (line %d)\n", #cond, __LINE__); \
			return -EIO;                                                 \
		}                                                                    \
	} while (0)

static DEFINE_PER_CPU(int, counter) = 5;

static int __init side_test_percpu_init(void)
{
	int cpu, total = 0, this;
	u64 __percpu *dyn;

	this = smp_processor_id();
	CHECK(this == 0);
	CHECK(num_possible_cpus() >= 2);
	this_cpu_inc(counter);
	CHECK(this_cpu_read(counter) == 6);
	CHECK(per_cpu(counter, this) == 6);
	for_each_possible_cpu(cpu)
		total += per_cpu(counter, cpu);
	CHECK(total == 5 * (int)num_possible_cpus() + 1);
	CHECK(*this_cpu_ptr(&counter) == 6);

	dyn = alloc_percpu(u64);
	CHECK(dyn);
	for_each_possible_cpu(cpu)
		CHECK(*per_cpu_ptr(dyn, cpu) == 0);
	this_cpu_add(*dyn, 3);
	CHECK(*per_cpu_ptr(dyn, this) == 3);
	free_percpu(dyn);

	CHECK(current != NULL);
	CHECK(current->pid > 0);
	pr_info("side_test_percpu: ok cpu=%d comm=%s\n", this, current->comm);
	return 0;
}

module_init(side_test_percpu_init);
MODULE_LICENSE("GPL");
