// SPDX-License-Identifier: GPL-2.0-only
/*
 * Workqueues (kernel/workqueue.c semantics) on one worker: every workqueue feeds one FIFO that virtual CPU 2 drains
 * in process context (side_kapi_run_work()). With a single worker, every workqueue is also ordered.
 *
 * WORK_STRUCT_PENDING in work->data means what it means in the kernel, and drivers test it inline (work_pending()):
 * it is set while the item is queued or its delay timer runs, cleared just before the function runs (so the item may
 * requeue itself), and kept set by a cancel in progress, so that nobody can queue the item until the cancel is done.
 */
#include <linux/interrupt.h>
#include <linux/slab.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

#include "kapi.h"

#define SIDE_WORKER_CPU 2
#define SIDE_WORK_WAIT_NS (10ULL * NSEC_PER_SEC)

struct workqueue_struct {
	const char *name;
	unsigned int flags;
	char buf[32];
};

static struct workqueue_struct side_wq_events = { .name = "events" };
static struct workqueue_struct side_wq_highpri = { .name = "events_highpri", .flags = WQ_HIGHPRI };
static struct workqueue_struct side_wq_long = { .name = "events_long" };
static struct workqueue_struct side_wq_unbound = { .name = "events_unbound", .flags = WQ_UNBOUND };
static struct workqueue_struct side_wq_freezable = { .name = "events_freezable", .flags = WQ_FREEZABLE };
static struct workqueue_struct side_wq_power = { .name = "events_power_efficient", .flags = WQ_POWER_EFFICIENT };
static struct workqueue_struct side_wq_freezable_power = { .name = "events_freezable_power_efficient",
							  .flags = WQ_FREEZABLE | WQ_POWER_EFFICIENT };

struct workqueue_struct *system_wq __read_mostly = &side_wq_events;
struct workqueue_struct *system_highpri_wq __read_mostly = &side_wq_highpri;
struct workqueue_struct *system_long_wq __read_mostly = &side_wq_long;
struct workqueue_struct *system_unbound_wq __read_mostly = &side_wq_unbound;
struct workqueue_struct *system_freezable_wq __read_mostly = &side_wq_freezable;
struct workqueue_struct *system_power_efficient_wq __read_mostly = &side_wq_power;
struct workqueue_struct *system_freezable_power_efficient_wq __read_mostly = &side_wq_freezable_power;

static DEFINE_SPINLOCK(side_wq_lock);
static LIST_HEAD(side_worklist);
/* The item the worker is executing, and its function (an item may be freed and reused while running). */
static struct work_struct *side_current;
static work_func_t side_current_func;

static unsigned long *side_bits(struct work_struct *work)
{
	return (unsigned long *)&work->data;
}

static bool side_on_worker(void)
{
	return raw_smp_processor_id() == SIDE_WORKER_CPU;
}

/* Puts an item whose PENDING bit the caller owns on the queue. */
static void side_enqueue(struct work_struct *work)
{
	unsigned long flags;

	spin_lock_irqsave(&side_wq_lock, flags);
	if (list_empty(&work->entry))
		list_add_tail(&work->entry, &side_worklist);
	spin_unlock_irqrestore(&side_wq_lock, flags);
	side_host_kick_worker();
}

static void side_check_wq(struct workqueue_struct *wq, unsigned long caller)
{
	if (!wq)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "queueing work on a NULL workqueue");
}

bool queue_work_on(int cpu, struct workqueue_struct *wq, struct work_struct *work)
{
	side_check_wq(wq, SIDE_CALLER);
	if (test_and_set_bit(WORK_STRUCT_PENDING_BIT, side_bits(work)))
		return false;
	side_enqueue(work);
	return true;
}

bool queue_work_node(int node, struct workqueue_struct *wq, struct work_struct *work)
{
	return queue_work_on(WORK_CPU_UNBOUND, wq, work);
}

void delayed_work_timer_fn(struct timer_list *t)
{
	struct delayed_work *dwork = from_timer(dwork, t, timer);

	side_enqueue(&dwork->work);
}

static void side_queue_delayed(int cpu, struct workqueue_struct *wq, struct delayed_work *dwork,
			       unsigned long delay, unsigned long caller)
{
	struct timer_list *timer = &dwork->timer;

	if (timer->function != delayed_work_timer_fn)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "delayed work %px was not initialised with INIT_DELAYED_WORK",
			   dwork);
	dwork->wq = wq;
	dwork->cpu = cpu;
	if (!delay) {
		side_enqueue(&dwork->work);
		return;
	}
	timer->expires = jiffies + delay;
	add_timer(timer);
}

bool queue_delayed_work_on(int cpu, struct workqueue_struct *wq, struct delayed_work *dwork, unsigned long delay)
{
	unsigned long flags;

	side_check_wq(wq, SIDE_CALLER);
	if (test_and_set_bit(WORK_STRUCT_PENDING_BIT, side_bits(&dwork->work)))
		return false;
	local_irq_save(flags);
	side_queue_delayed(cpu, wq, dwork, delay, SIDE_CALLER);
	local_irq_restore(flags);
	return true;
}

/*
 * try_to_grab_pending(): makes the caller the owner of the PENDING bit. 1: the item was pending (taken off the
 * queue or its timer stopped), 0: it was idle, -EAGAIN: it is between its timer and the queue (try again),
 * -ENOENT: another cancel owns it.
 */
static int side_grab_pending(struct work_struct *work, bool is_dwork)
{
	unsigned long flags;
	int ret = -EAGAIN;

	if (is_dwork && timer_delete(&to_delayed_work(work)->timer))
		return 1;
	if (!test_and_set_bit(WORK_STRUCT_PENDING_BIT, side_bits(work)))
		return 0;
	spin_lock_irqsave(&side_wq_lock, flags);
	if (!list_empty(&work->entry)) {
		list_del_init(&work->entry);
		ret = 1;
	} else if (test_bit(__WORK_OFFQ_CANCELING, side_bits(work))) {
		ret = -ENOENT;
	}
	spin_unlock_irqrestore(&side_wq_lock, flags);
	return ret;
}

static void side_clear_pending(struct work_struct *work)
{
	smp_mb__before_atomic();
	clear_bit(__WORK_OFFQ_CANCELING, side_bits(work));
	clear_bit(WORK_STRUCT_PENDING_BIT, side_bits(work));
}

static bool side_is_running(struct work_struct *work)
{
	return READ_ONCE(side_current) == work && READ_ONCE(side_current_func) == work->func;
}

static void side_wait(const char *what, struct work_struct *work, bool (*busy)(struct work_struct *),
		      unsigned long caller)
{
	u64 start = 0;

	while (busy(work)) {
		work_func_t fn = work ? work->func : READ_ONCE(side_current_func);

		if (side_on_worker())
			side_fault(SIDE_FAULT_DEADLOCK, caller, "%s of work %px (%ps) from the work itself", what, work,
				   fn);
		if (!start)
			start = side_host_real_clock_ns();
		else if (side_host_real_clock_ns() - start > SIDE_WORK_WAIT_NS)
			side_fault(SIDE_FAULT_HUNG, caller, "%s: work %ps still running after %llu s", what, fn,
				   SIDE_WORK_WAIT_NS / NSEC_PER_SEC);
		side_host_yield();
	}
}

static bool side_cancel_sync(struct work_struct *work, bool is_dwork, unsigned long caller)
{
	u64 start = 0;
	int ret;

	for (;;) {
		ret = side_grab_pending(work, is_dwork);
		if (ret >= 0)
			break;
		if (!start)
			start = side_host_real_clock_ns();
		else if (side_host_real_clock_ns() - start > SIDE_WORK_WAIT_NS)
			side_fault(SIDE_FAULT_HUNG, caller, "cancel of work %ps did not complete in %llu s", work->func,
				   SIDE_WORK_WAIT_NS / NSEC_PER_SEC);
		side_host_yield();
	}
	/* While we own PENDING (marked canceling), nobody can queue it; wait for a running instance. */
	set_bit(__WORK_OFFQ_CANCELING, side_bits(work));
	side_wait("cancel_work_sync", work, side_is_running, caller);
	side_clear_pending(work);
	return ret;
}

static bool side_cancel(struct work_struct *work, bool is_dwork)
{
	int ret;

	do {
		ret = side_grab_pending(work, is_dwork);
	} while (ret == -EAGAIN);
	if (ret < 0)
		return false;
	side_clear_pending(work);
	return ret;
}

bool cancel_work_sync(struct work_struct *work)
{
	return side_cancel_sync(work, false, SIDE_CALLER);
}

bool cancel_delayed_work_sync(struct delayed_work *dwork)
{
	return side_cancel_sync(&dwork->work, true, SIDE_CALLER);
}

bool cancel_work(struct work_struct *work)
{
	return side_cancel(work, false);
}

bool cancel_delayed_work(struct delayed_work *dwork)
{
	return side_cancel(&dwork->work, true);
}

bool mod_delayed_work_on(int cpu, struct workqueue_struct *wq, struct delayed_work *dwork, unsigned long delay)
{
	unsigned long flags;
	int ret;

	side_check_wq(wq, SIDE_CALLER);
	do {
		ret = side_grab_pending(&dwork->work, true);
	} while (ret == -EAGAIN);
	if (ret < 0)
		return false; /* being cancelled: the kernel drops the request too */
	local_irq_save(flags);
	side_queue_delayed(cpu, wq, dwork, delay, SIDE_CALLER);
	local_irq_restore(flags);
	return ret;
}

/* Executes one item the caller took off the queue (with side_wq_lock held, released here). */
static void side_execute(struct work_struct *work, unsigned long *flags)
{
	struct work_struct *outer = side_current;
	work_func_t outer_func = side_current_func, fn = work->func;
	int count;

	side_current = work;
	side_current_func = fn;
	/* PENDING is cleared before the function runs, so that it may queue itself again. */
	smp_mb__before_atomic();
	clear_bit(WORK_STRUCT_PENDING_BIT, side_bits(work));
	spin_unlock_irqrestore(&side_wq_lock, *flags);

	count = preempt_count();
	fn(work);
	if (preempt_count() != count || irqs_disabled()) {
		pr_err("BUG: workqueue leaked lock or atomic: %s/0x%08x/%d\n", current->comm, preempt_count(),
		       current->pid);
		pr_err("    last function: %ps\n", fn);
		preempt_count_set(count);
		local_irq_enable();
	}

	spin_lock_irqsave(&side_wq_lock, *flags);
	side_current = outer;
	side_current_func = outer_func;
}

void side_kapi_run_work(void)
{
	unsigned long flags;

	spin_lock_irqsave(&side_wq_lock, flags);
	while (!list_empty(&side_worklist)) {
		struct work_struct *work = list_first_entry(&side_worklist, struct work_struct, entry);

		list_del_init(&work->entry);
		side_execute(work, &flags);
	}
	spin_unlock_irqrestore(&side_wq_lock, flags);
	side_rcu_quiescent_state();
}

static bool side_queued_or_running(struct work_struct *work)
{
	bool busy;

	spin_lock_irq(&side_wq_lock);
	busy = !list_empty(&work->entry) || side_is_running(work);
	spin_unlock_irq(&side_wq_lock);
	return busy;
}

/*
 * Waits until the item is neither queued nor running. On the worker itself, a queued item is run right here (the
 * kernel would have another worker run it); waiting for the item the worker is running is a deadlock.
 */
bool flush_work(struct work_struct *work)
{
	unsigned long flags;

	if (!side_queued_or_running(work))
		return false;
	if (side_on_worker()) {
		spin_lock_irqsave(&side_wq_lock, flags);
		if (!list_empty(&work->entry) && !side_is_running(work)) {
			list_del_init(&work->entry);
			side_execute(work, &flags);
		}
		spin_unlock_irqrestore(&side_wq_lock, flags);
	}
	side_wait("flush_work", work, side_queued_or_running, SIDE_CALLER);
	return true;
}

bool flush_delayed_work(struct delayed_work *dwork)
{
	unsigned long flags;

	local_irq_save(flags);
	if (timer_delete(&dwork->timer))
		side_enqueue(&dwork->work);
	local_irq_restore(flags);
	return flush_work(&dwork->work);
}

static bool side_any_work(struct work_struct *unused)
{
	bool busy;

	spin_lock_irq(&side_wq_lock);
	busy = !list_empty(&side_worklist) || side_current;
	spin_unlock_irq(&side_wq_lock);
	return busy;
}

/* Waits for everything queued so far (every workqueue shares the one worker). */
void __flush_workqueue(struct workqueue_struct *wq)
{
	if (side_on_worker()) {
		side_kapi_run_work();
		return;
	}
	side_wait("flush_workqueue", NULL, side_any_work, SIDE_CALLER);
}

void drain_workqueue(struct workqueue_struct *wq)
{
	__flush_workqueue(wq);
}

struct workqueue_struct *alloc_workqueue(const char *fmt, unsigned int flags, int max_active, ...)
{
	struct workqueue_struct *wq = kzalloc(sizeof(*wq), GFP_KERNEL);
	va_list args;

	if (!wq)
		return NULL;
	va_start(args, max_active);
	vsnprintf(wq->buf, sizeof(wq->buf), fmt, args);
	va_end(args);
	wq->name = wq->buf;
	wq->flags = flags;
	return wq;
}

void destroy_workqueue(struct workqueue_struct *wq)
{
	if (wq == system_wq || !wq)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "destroy_workqueue of %s",
			   wq ? "a system workqueue" : "NULL");
	drain_workqueue(wq);
	kfree(wq);
}

struct work_struct *current_work(void)
{
	return side_on_worker() ? READ_ONCE(side_current) : NULL;
}

unsigned int work_busy(struct work_struct *work)
{
	unsigned int ret = 0;

	if (work_pending(work))
		ret |= WORK_BUSY_PENDING;
	if (side_is_running(work))
		ret |= WORK_BUSY_RUNNING;
	return ret;
}
