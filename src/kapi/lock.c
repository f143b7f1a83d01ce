// SPDX-License-Identifier: GPL-2.0-only
/*
 * Spinlocks and mutexes. A virtual CPU is a host thread that the host may preempt at any time, even while it holds
 * a spinlock, so a contended lock spins briefly and then yields the host CPU instead of spinning forever. A lock
 * that stays unavailable for SIDE_LOCKUP_NS, or one a CPU tries to take twice, is a detected driver fault.
 *
 * Lock word: the kernel's qspinlock layout with the locked byte at bit 0. side never queues waiters, so it keeps
 * the owning CPU + 1 in the upper 16 bits (the MCS tail field), which lets it name recursion and bad unlocks.
 */
#include <linux/bottom_half.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/spinlock.h>

#include "kapi.h"

#define SIDE_SPIN_BEFORE_YIELD 256
#define SIDE_LOCKUP_NS (10ULL * NSEC_PER_SEC)

static u32 side_lock_value(void)
{
	return ((u32)(raw_smp_processor_id() + 1) << 16) | _Q_LOCKED_VAL;
}

static bool side_try_lock(raw_spinlock_t *lock)
{
	int expected = 0;

	return atomic_try_cmpxchg_acquire(&lock->raw_lock.val, &expected, side_lock_value());
}

static void side_spin_acquire(raw_spinlock_t *lock, unsigned long caller)
{
	unsigned long spins = 0;
	u64 start = 0;

	while (!side_try_lock(lock)) {
		u32 v = atomic_read(&lock->raw_lock.val);

		if ((v >> 16) == (u32)raw_smp_processor_id() + 1)
			side_fault(SIDE_FAULT_DEADLOCK, caller, "spinlock recursion on CPU#%d, lock %px",
				   raw_smp_processor_id(), lock);
		if (++spins < SIDE_SPIN_BEFORE_YIELD) {
			cpu_relax();
			continue;
		}
		if (!start)
			start = side_host_real_clock_ns();
		else if (side_host_real_clock_ns() - start > SIDE_LOCKUP_NS)
			side_fault(SIDE_FAULT_DEADLOCK, caller, "spinlock lockup suspected on CPU#%d, lock %px held by CPU#%u",
				   raw_smp_processor_id(), lock, (v >> 16) - 1);
		side_host_yield();
	}
}

static void side_spin_release(raw_spinlock_t *lock, unsigned long caller)
{
	if (!(atomic_read(&lock->raw_lock.val) & _Q_LOCKED_MASK))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "unlocking an unlocked spinlock %px", lock);
	atomic_set_release(&lock->raw_lock.val, 0);
}

void __lockfunc _raw_spin_lock(raw_spinlock_t *lock)
{
	preempt_disable();
	side_spin_acquire(lock, SIDE_CALLER);
}

void __lockfunc _raw_spin_lock_nested(raw_spinlock_t *lock, int subclass)
{
	preempt_disable();
	side_spin_acquire(lock, SIDE_CALLER);
}

int __lockfunc _raw_spin_trylock(raw_spinlock_t *lock)
{
	preempt_disable();
	if (side_try_lock(lock))
		return 1;
	preempt_enable();
	return 0;
}

void __lockfunc _raw_spin_unlock(raw_spinlock_t *lock)
{
	side_spin_release(lock, SIDE_CALLER);
	preempt_enable();
}

unsigned long __lockfunc _raw_spin_lock_irqsave(raw_spinlock_t *lock)
{
	unsigned long flags;

	local_irq_save(flags);
	preempt_disable();
	side_spin_acquire(lock, SIDE_CALLER);
	return flags;
}

unsigned long __lockfunc _raw_spin_lock_irqsave_nested(raw_spinlock_t *lock, int subclass)
{
	unsigned long flags;

	local_irq_save(flags);
	preempt_disable();
	side_spin_acquire(lock, SIDE_CALLER);
	return flags;
}

void __lockfunc _raw_spin_unlock_irqrestore(raw_spinlock_t *lock, unsigned long flags)
{
	side_spin_release(lock, SIDE_CALLER);
	local_irq_restore(flags);
	preempt_enable();
}

void __lockfunc _raw_spin_lock_irq(raw_spinlock_t *lock)
{
	local_irq_disable();
	preempt_disable();
	side_spin_acquire(lock, SIDE_CALLER);
}

void __lockfunc _raw_spin_unlock_irq(raw_spinlock_t *lock)
{
	side_spin_release(lock, SIDE_CALLER);
	local_irq_enable();
	preempt_enable();
}

void __lockfunc _raw_spin_lock_bh(raw_spinlock_t *lock)
{
	__local_bh_disable_ip(SIDE_CALLER, SOFTIRQ_LOCK_OFFSET);
	side_spin_acquire(lock, SIDE_CALLER);
}

void __lockfunc _raw_spin_unlock_bh(raw_spinlock_t *lock)
{
	side_spin_release(lock, SIDE_CALLER);
	__local_bh_enable_ip(SIDE_CALLER, SOFTIRQ_LOCK_OFFSET);
}

int __lockfunc _raw_spin_trylock_bh(raw_spinlock_t *lock)
{
	__local_bh_disable_ip(SIDE_CALLER, SOFTIRQ_LOCK_OFFSET);
	if (side_try_lock(lock))
		return 1;
	__local_bh_enable_ip(SIDE_CALLER, SOFTIRQ_LOCK_OFFSET);
	return 0;
}

/*
 * Bottom halves. Debian's kernel has CONFIG_TRACE_IRQFLAGS off, so local_bh_disable() is an inline preempt-count
 * add; enabling goes through here.
 */
void __local_bh_enable_ip(unsigned long ip, unsigned int cnt)
{
	if (unlikely((preempt_count() & SOFTIRQ_MASK) < (cnt & SOFTIRQ_MASK)))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, ip, "local_bh_enable without local_bh_disable");
	__preempt_count_sub(cnt);
}

/* Mutexes. The owner word holds the owning task, as in the kernel (flag bits unused). */
void __mutex_init(struct mutex *lock, const char *name, struct lock_class_key *key)
{
	atomic_long_set(&lock->owner, 0);
	raw_spin_lock_init(&lock->wait_lock);
	INIT_LIST_HEAD(&lock->wait_list);
}

static bool side_mutex_try(struct mutex *lock)
{
	long expected = 0;

	return atomic_long_try_cmpxchg_acquire(&lock->owner, &expected, (long)current);
}

static void side_might_sleep(const char *what, unsigned long caller)
{
	if (preempt_count() != 0 || irqs_disabled())
		pr_err("BUG: sleeping function called from invalid context: %s from %pS (preempt_count %#x, irqs %s)\n",
		       what, (void *)caller, preempt_count(), irqs_disabled() ? "disabled" : "enabled");
}

static void side_mutex_acquire(struct mutex *lock, unsigned long caller)
{
	unsigned long spins = 0;
	u64 start = 0, backoff = 1000;

	side_might_sleep("mutex_lock", caller);
	while (!side_mutex_try(lock)) {
		if (atomic_long_read(&lock->owner) == (long)current)
			side_fault(SIDE_FAULT_DEADLOCK, caller, "recursive locking of mutex %px by %s", lock,
				   current->comm);
		if (++spins < SIDE_SPIN_BEFORE_YIELD) {
			cpu_relax();
			continue;
		}
		if (!start)
			start = side_host_real_clock_ns();
		else if (side_host_real_clock_ns() - start > SIDE_LOCKUP_NS)
			side_fault(SIDE_FAULT_DEADLOCK, caller, "mutex %px not released for %llu s", lock,
				   SIDE_LOCKUP_NS / NSEC_PER_SEC);
		/* A sleeping waiter: back off up to 1 ms between attempts. */
		side_host_real_sleep_ns(backoff);
		if (backoff < NSEC_PER_MSEC)
			backoff *= 2;
	}
}

void mutex_lock(struct mutex *lock)
{
	side_mutex_acquire(lock, SIDE_CALLER);
}

int mutex_lock_interruptible(struct mutex *lock)
{
	side_mutex_acquire(lock, SIDE_CALLER);
	return 0;
}

int mutex_lock_killable(struct mutex *lock)
{
	side_mutex_acquire(lock, SIDE_CALLER);
	return 0;
}

int mutex_trylock(struct mutex *lock)
{
	return side_mutex_try(lock);
}

void mutex_unlock(struct mutex *lock)
{
	long owner = atomic_long_read(&lock->owner);

	if (owner != (long)current)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "mutex_unlock of mutex %px %s", lock,
			   owner ? "held by another task" : "that is not locked");
	atomic_long_set_release(&lock->owner, 0);
}

bool mutex_is_locked(struct mutex *lock)
{
	return atomic_long_read(&lock->owner) != 0;
}
