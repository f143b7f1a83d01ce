// SPDX-License-Identifier: GPL-2.0-only
/* Timers and workqueues: expiry never early, callbacks in softirq context on vCPU 1, work on vCPU 2, PENDING
 * semantics, cancels and delayed work. Every check logs its line on failure; the last line says "ok". */
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

#define CHECK(cond)                                                                                      \
	do {                                                                                             \
		if (!(cond)) {                                                                           \
			pr_err("side_test_deferred: check failed: %s (line %d)\n", #cond, __LINE__);     \
			return -EIO;                                                                     \
		}                                                                                        \
	} while (0)

/* Waits (virtual time advances with each msleep) until `cond`, at most ~2 s of domain time. */
#define WAIT_FOR(cond)                                                \
	do {                                                          \
		int __n;                                              \
		for (__n = 0; __n < 2000 && !(cond); __n++)           \
			msleep(1);                                    \
	} while (0)

static struct timer_list timer;
static unsigned long timer_armed_at, timer_expires, timer_fired_at;
static int timer_fired, timer_cpu = -1, timer_softirq;

static void timer_fn(struct timer_list *t)
{
	timer_fired_at = jiffies;
	timer_cpu = smp_processor_id();
	timer_softirq = in_serving_softirq();
	WRITE_ONCE(timer_fired, timer_fired + 1);
}

static int gate_open, blocker_ran;
static void blocker_fn(struct work_struct *w)
{
	WRITE_ONCE(blocker_ran, 1);
	while (!READ_ONCE(gate_open))
		msleep(1);
}
static DECLARE_WORK(blocker, blocker_fn);

static int a_runs, a_cpu = -1, a_atomic = -1, b_runs;
static void a_fn(struct work_struct *w)
{
	a_cpu = smp_processor_id();
	a_atomic = in_atomic() || irqs_disabled();
	WRITE_ONCE(a_runs, a_runs + 1);
}
static void b_fn(struct work_struct *w)
{
	WRITE_ONCE(b_runs, b_runs + 1);
}
static DECLARE_WORK(work_a, a_fn);
static DECLARE_WORK(work_b, b_fn);

static unsigned long d_queued_at, d_ran_at;
static int d_runs, e_runs;
static void d_fn(struct work_struct *w)
{
	d_ran_at = jiffies;
	WRITE_ONCE(d_runs, d_runs + 1);
}
static void e_fn(struct work_struct *w)
{
	WRITE_ONCE(e_runs, e_runs + 1);
}
static DECLARE_DELAYED_WORK(work_d, d_fn);
static DECLARE_DELAYED_WORK(work_e, e_fn);

static int __init side_test_deferred_init(void)
{
	/* Timers. */
	timer_setup(&timer, timer_fn, 0);
	CHECK(!timer_pending(&timer));
	timer_armed_at = jiffies;
	timer_expires = timer_armed_at + 20;
	CHECK(mod_timer(&timer, timer_expires) == 0);
	CHECK(timer_pending(&timer));
	CHECK(mod_timer(&timer, timer_expires) == 1);
	CHECK(!timer_fired);
	WAIT_FOR(READ_ONCE(timer_fired));
	CHECK(timer_fired == 1);
	CHECK(time_after_eq(timer_fired_at, timer_expires));
	CHECK(timer_cpu == 1 && timer_softirq);
	CHECK(!timer_pending(&timer));
	pr_info("side_test_deferred: timer armed at +0 for +20 fired at +%lu on cpu %d\n",
		timer_fired_at - timer_armed_at, timer_cpu);

	/* A deleted timer never fires. */
	mod_timer(&timer, jiffies + 5);
	CHECK(del_timer_sync(&timer) == 1);
	CHECK(del_timer(&timer) == 0);
	msleep(50);
	CHECK(timer_fired == 1);

	/* Work: while the worker is busy, a pending item is queued once; a cancelled one never runs. */
	CHECK(queue_work(system_wq, &blocker));
	WAIT_FOR(READ_ONCE(blocker_ran));
	CHECK(blocker_ran);
	CHECK(queue_work(system_wq, &work_a));
	CHECK(!queue_work(system_wq, &work_a));
	CHECK(work_pending(&work_a));
	CHECK(schedule_work(&work_b));
	CHECK(cancel_work_sync(&work_b));
	CHECK(!work_pending(&work_b));
	CHECK(!cancel_work_sync(&work_b));
	WRITE_ONCE(gate_open, 1);
	flush_work(&work_a);
	CHECK(a_runs == 1);
	CHECK(b_runs == 0);
	CHECK(a_cpu == 2 && a_atomic == 0);
	CHECK(!work_pending(&work_a));
	/* After running, it can be queued again. */
	CHECK(queue_work(system_wq, &work_a));
	flush_work(&work_a);
	CHECK(a_runs == 2);

	/* Delayed work runs after its delay; a cancelled one does not. */
	d_queued_at = jiffies;
	CHECK(queue_delayed_work(system_wq, &work_d, 10));
	CHECK(!queue_delayed_work(system_wq, &work_d, 10));
	CHECK(delayed_work_pending(&work_d));
	CHECK(schedule_delayed_work(&work_e, 10));
	CHECK(cancel_delayed_work_sync(&work_e));
	WAIT_FOR(READ_ONCE(d_runs));
	CHECK(d_runs == 1);
	CHECK(time_after_eq(d_ran_at, d_queued_at + 10));
	msleep(100);
	CHECK(e_runs == 0);
	CHECK(!cancel_delayed_work_sync(&work_d));

	pr_info("side_test_deferred: ok work a=%d b=%d delayed d=%d e=%d\n", a_runs, b_runs, d_runs, e_runs);
	return 0;
}

module_init(side_test_deferred_init);
MODULE_LICENSE("GPL");
