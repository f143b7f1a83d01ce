// SPDX-License-Identifier: GPL-2.0-only
/* Spinlocks (plain, irqsave, bh), the virtual interrupt flag and the preempt count, mutexes. */
#include <linux/interrupt.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>

#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			pr_err("side_test_locks: check failed: %s (line %d)\n", #cond, __LINE__); \
			return -EIO;                                                 \
		}                                                                    \
	} while (0)

static DEFINE_SPINLOCK(lock);
static DEFINE_MUTEX(mtx);

static int __init side_test_locks_init(void)
{
	unsigned long flags;

	CHECK(preempt_count() == 0);
	CHECK(!irqs_disabled());
	spin_lock(&lock);
	CHECK(spin_is_locked(&lock));
	CHECK(preempt_count() == 1);
	CHECK(!spin_trylock(&lock));
	spin_unlock(&lock);
	CHECK(!spin_is_locked(&lock));
	CHECK(preempt_count() == 0);

	spin_lock_irqsave(&lock, flags);
	CHECK(irqs_disabled());
	spin_unlock_irqrestore(&lock, flags);
	CHECK(!irqs_disabled());

	local_irq_save(flags);
	CHECK(irqs_disabled());
	local_irq_restore(flags);
	CHECK(!irqs_disabled());

	spin_lock_bh(&lock);
	CHECK(in_softirq());
	spin_unlock_bh(&lock);
	CHECK(!in_softirq());

	mutex_lock(&mtx);
	CHECK(mutex_is_locked(&mtx));
	CHECK(!mutex_trylock(&mtx));
	mutex_unlock(&mtx);
	CHECK(mutex_trylock(&mtx));
	mutex_unlock(&mtx);

	pr_info("side_test_locks: ok\n");
	return 0;
}

module_init(side_test_locks_init);
MODULE_LICENSE("GPL");
