// SPDX-License-Identifier: GPL-2.0-only
/* Jiffies, ktime and delays, all derived from the domain clock the host keeps (see side_host.h). */
#include <linux/bottom_half.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/sched.h>
#include <linux/timekeeping.h>

#include "kapi.h"

/* Starts 5 minutes before wrapping, as the kernel does, so that drivers that mishandle the wrap show it early. */
u64 jiffies_64 __cacheline_aligned_in_smp = INITIAL_JIFFIES;
unsigned long volatile __cacheline_aligned_in_smp jiffies = INITIAL_JIFFIES;
static u64 side_clock_origin_ns;

static u64 side_now_ns(void)
{
	return side_host_clock_ns() - side_clock_origin_ns;
}

void side_kapi_time_init(void)
{
	side_clock_origin_ns = side_host_clock_ns();
}

static void side_update_jiffies(void)
{
	u64 j = INITIAL_JIFFIES + div_u64(side_now_ns(), NSEC_PER_SEC / HZ);

	if (j > jiffies_64) {
		WRITE_ONCE(jiffies_64, j);
		WRITE_ONCE(jiffies, (unsigned long)j);
	}
}

/* vCPU 1, every jiffy: the clock moves and due timers run in softirq context, as run_timer_softirq(). The answer,
 * the time until the next jiffy begins, puts vCPU 1's next tick on that boundary: a timer due at jiffy J then runs
 * as J begins, as on Linux, instead of up to a whole tick later (e1000's watchdog, armed one jiffy ahead by its
 * open, took 4-5 ms to bring the first frame after a restart). */
side_u64 side_kapi_tick(void)
{
	u32 into_jiffy;

	side_update_jiffies();
	__local_bh_disable_ip(_RET_IP_, SOFTIRQ_OFFSET);
	side_run_timers();
	__preempt_count_sub(SOFTIRQ_OFFSET);
	side_rcu_quiescent_state();
	div_u64_rem(side_now_ns(), NSEC_PER_SEC / HZ, &into_jiffy);
	return NSEC_PER_SEC / HZ - into_jiffy;
}

/* Delays move jiffies on the delaying CPU at once; timers still run only on vCPU 1. */
static void side_delay(u64 ns)
{
	side_host_delay_ns(ns);
	side_update_jiffies();
}

/* udelay(n) for constant n is __const_udelay(n * 0x10c7), ndelay(n) is __const_udelay(n * 5): xloops is a
 * 32.32 fixed-point count of microseconds-per-second fractions, i.e. seconds * 2^32. */
void __const_udelay(unsigned long xloops)
{
	side_delay(((u64)xloops * NSEC_PER_SEC) >> 32);
}

void __udelay(unsigned long usecs)
{
	side_delay((u64)usecs * NSEC_PER_USEC);
}

void __ndelay(unsigned long nsecs)
{
	side_delay(nsecs);
}

void __delay(unsigned long loops)
{
	side_delay(loops);
}

void msleep(unsigned int msecs)
{
	side_delay((u64)msecs * NSEC_PER_MSEC);
}

/* No signals reach a driver domain, so the sleep is never interrupted: 0 ms remain. */
unsigned long msleep_interruptible(unsigned int msecs)
{
	side_delay((u64)msecs * NSEC_PER_MSEC);
	return 0;
}

void usleep_range_state(unsigned long min, unsigned long max, unsigned int state)
{
	side_delay((u64)min * NSEC_PER_USEC);
}


/*
 * schedule_timeout() in an uninterruptible state: only a wake_up_process() of this task could end the sleep early,
 * and nothing in a domain wakes a virtual CPU's task that way, so the task sleeps out its timeout and 0 jiffies
 * remain. MAX_SCHEDULE_TIMEOUT would sleep forever: that is a hang, reported as one.
 */
static long side_schedule_timeout(long timeout, unsigned long caller)
{
	if (timeout == MAX_SCHEDULE_TIMEOUT)
		side_fault(SIDE_FAULT_HUNG, caller, "schedule_timeout(MAX_SCHEDULE_TIMEOUT) with nothing to wake the task");
	if (timeout < 0) {
		pr_err("schedule_timeout: wrong timeout value %lx from %pS\n", timeout, (void *)caller);
		return 0;
	}
	side_delay(jiffies64_to_nsecs(timeout));
	return 0;
}

long schedule_timeout_uninterruptible(long timeout)
{
	return side_schedule_timeout(timeout, SIDE_CALLER);
}

ktime_t ktime_get(void)
{
	return side_now_ns();
}

ktime_t ktime_get_with_offset(enum tk_offsets offs)
{
	return side_now_ns();
}

u64 ktime_get_mono_fast_ns(void)
{
	return side_now_ns();
}

u64 ktime_get_raw_fast_ns(void)
{
	return side_now_ns();
}

void ktime_get_ts64(struct timespec64 *ts)
{
	*ts = ns_to_timespec64(side_now_ns());
}

void ktime_get_real_ts64(struct timespec64 *ts)
{
	*ts = ns_to_timespec64(side_host_clock_ns());
}

time64_t ktime_get_seconds(void)
{
	return div_u64(side_now_ns(), NSEC_PER_SEC);
}

time64_t ktime_get_real_seconds(void)
{
	return div_u64(side_host_clock_ns(), NSEC_PER_SEC);
}

unsigned int jiffies_to_msecs(const unsigned long j)
{
	return (MSEC_PER_SEC / HZ) * j;
}

unsigned int jiffies_to_usecs(const unsigned long j)
{
	return (USEC_PER_SEC / HZ) * j;
}

u64 jiffies64_to_nsecs(u64 j)
{
	return j * (NSEC_PER_SEC / HZ);
}

u64 jiffies64_to_msecs(u64 j)
{
	return j * (MSEC_PER_SEC / HZ);
}

unsigned long __msecs_to_jiffies(const unsigned int m)
{
	if ((int)m < 0)
		return MAX_JIFFY_OFFSET;
	return DIV_ROUND_UP(m, MSEC_PER_SEC / HZ);
}

unsigned long __usecs_to_jiffies(const unsigned int u)
{
	if (u > jiffies_to_usecs(MAX_JIFFY_OFFSET))
		return MAX_JIFFY_OFFSET;
	return DIV_ROUND_UP(u, USEC_PER_SEC / HZ);
}

unsigned long nsecs_to_jiffies(u64 n)
{
	return div_u64(n, NSEC_PER_SEC / HZ);
}

/* Rounds to a whole second, as the kernel does to batch timers; never into the past. */
unsigned long __round_jiffies_up(unsigned long j, int cpu)
{
	unsigned long rem = j % HZ;

	return rem ? j - rem + HZ : j;
}

unsigned long round_jiffies_up(unsigned long j)
{
	return __round_jiffies_up(j, 0);
}

unsigned long round_jiffies_up_relative(unsigned long j)
{
	return round_jiffies_up(j + jiffies) - jiffies;
}

unsigned long __round_jiffies(unsigned long j, int cpu)
{
	unsigned long original = j, rem = j % HZ;

	j = rem < HZ / 4 ? j - rem : j - rem + HZ;
	return time_is_after_jiffies(j) ? j : original;
}

unsigned long round_jiffies(unsigned long j)
{
	return __round_jiffies(j, 0);
}

unsigned long round_jiffies_relative(unsigned long j)
{
	return round_jiffies(j + jiffies) - jiffies;
}

struct timespec64 ns_to_timespec64(s64 nsec)
{
	struct timespec64 ts = { 0, 0 };
	s32 rem;

	if (likely(nsec > 0)) {
		ts.tv_sec = div_u64_rem(nsec, NSEC_PER_SEC, &rem);
		ts.tv_nsec = rem;
	} else if (nsec < 0) {
		ts.tv_sec = -div_u64_rem(-nsec - 1, NSEC_PER_SEC, &rem) - 1;
		ts.tv_nsec = NSEC_PER_SEC - rem - 1;
	}
	return ts;
}

/* The scheduler's clock: nanoseconds of the domain clock, which every virtual CPU shares. */
unsigned long long notrace sched_clock(void)
{
	return side_now_ns();
}
