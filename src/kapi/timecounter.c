// SPDX-License-Identifier: GPL-2.0-only
/*
 * Time counters (lib/timecounter.c): nanoseconds kept from a free-running cycle counter of the driver's (a NIC's
 * PTP clock register), with the sub-nanosecond remainder carried between reads so that no time is lost to rounding.
 * A stamp up to half the counter's range behind the last read is converted backwards.
 */
#include <linux/timecounter.h>

#include "kapi.h"

void timecounter_init(struct timecounter *tc, const struct cyclecounter *cc, u64 start_tstamp)
{
	tc->cc = cc;
	tc->cycle_last = cc->read(cc);
	tc->nsec = start_tstamp;
	tc->mask = (1ULL << cc->shift) - 1;
	tc->frac = 0;
}

u64 timecounter_read(struct timecounter *tc)
{
	u64 now = tc->cc->read(tc->cc);
	u64 delta = (now - tc->cycle_last) & tc->cc->mask;

	tc->nsec += cyclecounter_cyc2ns(tc->cc, delta, tc->mask, &tc->frac);
	tc->cycle_last = now;
	return tc->nsec;
}

u64 timecounter_cyc2time(const struct timecounter *tc, u64 cycle_tstamp)
{
	u64 delta = (cycle_tstamp - tc->cycle_last) & tc->cc->mask;
	u64 frac = tc->frac;

	if (delta > tc->cc->mask / 2) {
		delta = (tc->cycle_last - cycle_tstamp) & tc->cc->mask;
		return tc->nsec - ((delta * tc->cc->mult - frac) >> tc->cc->shift);
	}
	return tc->nsec + cyclecounter_cyc2ns(tc->cc, delta, tc->mask, &frac);
}
