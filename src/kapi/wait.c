// SPDX-License-Identifier: GPL-2.0-only
/*
 * Wait queues (kernel/sched/wait.c) and the task states they move: a waiter puts its entry on the queue and sets
 * its state (prepare_to_wait_event), checks its condition, and calls schedule(); __wake_up() runs each entry's
 * wake function, which for the entries made here sets the task running again and takes the entry off the queue
 * (autoremove_wake_function). schedule() returns once the calling task is running again: a task that nobody wakes
 * within the hang bound is a detected hang, never a silent endless sleep.
 */
#include <linux/list.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "kapi.h"

void __init_waitqueue_head(struct wait_queue_head *wq_head, const char *name, struct lock_class_key *key)
{
	spin_lock_init(&wq_head->lock);
	INIT_LIST_HEAD(&wq_head->head);
}

int default_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode, int wake_flags, void *key)
{
	struct task_struct *p = wq_entry->private;

	if (!(READ_ONCE(p->__state) & mode))
		return 0;
	smp_store_release(&p->__state, TASK_RUNNING);
	return 1;
}

int autoremove_wake_function(struct wait_queue_entry *wq_entry, unsigned int mode, int sync, void *key)
{
	int ret = default_wake_function(wq_entry, mode, sync, key);

	if (ret)
		list_del_init_careful(&wq_entry->entry);
	return ret;
}

void init_wait_entry(struct wait_queue_entry *wq_entry, int flags)
{
	wq_entry->flags = flags;
	wq_entry->private = current;
	wq_entry->func = autoremove_wake_function;
	INIT_LIST_HEAD(&wq_entry->entry);
}

/* No signal ever reaches a domain's task, so an interruptible wait is never cut short. */
long prepare_to_wait_event(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry, int state)
{
	unsigned long flags;

	spin_lock_irqsave(&wq_head->lock, flags);
	if (list_empty(&wq_entry->entry)) {
		if (wq_entry->flags & WQ_FLAG_EXCLUSIVE)
			list_add_tail(&wq_entry->entry, &wq_head->head);
		else
			list_add(&wq_entry->entry, &wq_head->head);
	}
	smp_store_mb(current->__state, state);
	spin_unlock_irqrestore(&wq_head->lock, flags);
	return 0;
}

void finish_wait(struct wait_queue_head *wq_head, struct wait_queue_entry *wq_entry)
{
	unsigned long flags;

	__set_current_state(TASK_RUNNING);
	if (!list_empty_careful(&wq_entry->entry)) {
		spin_lock_irqsave(&wq_head->lock, flags);
		list_del_init(&wq_entry->entry);
		spin_unlock_irqrestore(&wq_head->lock, flags);
	}
}

/* Wakes non-exclusive waiters and up to nr_exclusive exclusive ones (0: all), as __wake_up_common does; returns
 * how many of the nr_exclusive were used up. */
int __wake_up(struct wait_queue_head *wq_head, unsigned int mode, int nr_exclusive, void *key)
{
	struct wait_queue_entry *curr, *next;
	int remaining = nr_exclusive;
	unsigned long flags;

	spin_lock_irqsave(&wq_head->lock, flags);
	list_for_each_entry_safe(curr, next, &wq_head->head, entry) {
		unsigned int wq_flags = curr->flags;
		int ret = curr->func(curr, mode, 0, key);

		if (ret < 0)
			break;
		if (ret && (wq_flags & WQ_FLAG_EXCLUSIVE) && !--remaining)
			break;
	}
	spin_unlock_irqrestore(&wq_head->lock, flags);
	return nr_exclusive - remaining;
}

static bool side_task_running(void *task)
{
	return READ_ONCE(((struct task_struct *)task)->__state) == TASK_RUNNING;
}

asmlinkage __visible void schedule(void)
{
	struct task_struct *task = current;

	side_check_might_sleep("schedule", SIDE_CALLER);
	if (!side_wait_cond_ns(side_task_running, task, SIDE_SLEEP_HANG_NS))
		side_fault(SIDE_FAULT_HUNG, SIDE_CALLER, "task %s slept (state %#x) %llu s and nothing woke it",
			   task->comm, READ_ONCE(task->__state), SIDE_SLEEP_HANG_NS / NSEC_PER_SEC);
}
