// SPDX-License-Identifier: GPL-2.0-only
/*
 * Read-write semaphores (kernel/locking/rwsem.c), keeping the count word's meaning so that the inline helpers a
 * driver has (rwsem_is_locked) read it right: RWSEM_WRITER_LOCKED while a writer holds it, RWSEM_READER_BIAS per
 * reader. Waiters sleep by polling (sleep_wait.c); one still waiting after the lockup bound is a detected deadlock.
 */
#include <linux/rwsem.h>
#include <linux/sched.h>

#include "kapi.h"

#define SIDE_RWSEM_WRITER_LOCKED (1UL << 0)
#define SIDE_RWSEM_READER_BIAS (1UL << 8)

void __init_rwsem(struct rw_semaphore *sem, const char *name, struct lock_class_key *key)
{
	atomic_long_set(&sem->count, 0);
	atomic_long_set(&sem->owner, 0);
	raw_spin_lock_init(&sem->wait_lock);
	INIT_LIST_HEAD(&sem->wait_list);
}

static bool side_rwsem_try_read(void *arg)
{
	struct rw_semaphore *sem = arg;
	long c = atomic_long_read(&sem->count);

	return !(c & SIDE_RWSEM_WRITER_LOCKED) &&
	       atomic_long_try_cmpxchg_acquire(&sem->count, &c, c + SIDE_RWSEM_READER_BIAS);
}

static bool side_rwsem_try_write(void *arg)
{
	struct rw_semaphore *sem = arg;
	long c = 0;

	if (!atomic_long_try_cmpxchg_acquire(&sem->count, &c, SIDE_RWSEM_WRITER_LOCKED))
		return false;
	atomic_long_set(&sem->owner, (long)current);
	return true;
}

static void side_rwsem_wait(struct rw_semaphore *sem, bool (*try)(void *), const char *what, unsigned long caller)
{
	side_check_might_sleep(what, caller);
	if (try(sem))
		return;
	if (atomic_long_read(&sem->owner) == (long)current)
		side_fault(SIDE_FAULT_DEADLOCK, caller, "%s of rw_semaphore %px, which this task holds for writing", what,
			   sem);
	if (!side_wait_cond_ns(try, sem, SIDE_SLEEP_HANG_NS))
		side_fault(SIDE_FAULT_DEADLOCK, caller, "%s: rw_semaphore %px not released for %llu s", what, sem,
			   SIDE_SLEEP_HANG_NS / NSEC_PER_SEC);
}

void down_read(struct rw_semaphore *sem)
{
	side_rwsem_wait(sem, side_rwsem_try_read, "down_read", SIDE_CALLER);
}

int down_read_trylock(struct rw_semaphore *sem)
{
	return side_rwsem_try_read(sem);
}

void down_write(struct rw_semaphore *sem)
{
	side_rwsem_wait(sem, side_rwsem_try_write, "down_write", SIDE_CALLER);
}

int down_write_trylock(struct rw_semaphore *sem)
{
	return side_rwsem_try_write(sem);
}

void up_read(struct rw_semaphore *sem)
{
	long c = atomic_long_read(&sem->count);

	if (c < (long)SIDE_RWSEM_READER_BIAS)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "up_read of rw_semaphore %px with no reader", sem);
	atomic_long_sub_return_release(SIDE_RWSEM_READER_BIAS, &sem->count);
}

void up_write(struct rw_semaphore *sem)
{
	if (atomic_long_read(&sem->owner) != (long)current)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "up_write of rw_semaphore %px %s", sem,
			   atomic_long_read(&sem->count) & SIDE_RWSEM_WRITER_LOCKED ? "held by another task" :
										      "not held for writing");
	atomic_long_set(&sem->owner, 0);
	atomic_long_fetch_andnot_release(SIDE_RWSEM_WRITER_LOCKED, &sem->count);
}

void downgrade_write(struct rw_semaphore *sem)
{
	atomic_long_set(&sem->owner, 0);
	atomic_long_add_return_release(SIDE_RWSEM_READER_BIAS - SIDE_RWSEM_WRITER_LOCKED, &sem->count);
}
