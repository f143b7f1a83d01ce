// SPDX-License-Identifier: GPL-2.0-only
/*
 * PTP hardware clocks (drivers/ptp). Registering a clock creates /dev/ptpN for user space; a domain has no device
 * nodes and side does not export the clock to the host, so registration fails with -EOPNOTSUPP (drivers carry on
 * without a PHC, as on a kernel without PTP support). No clock is ever handed out, so any use of one is a driver
 * bug. Cross-timestamps need the CPU's Always Running Timer in the system clock, which the domain clock is not.
 */
#include <linux/ptp_clock_kernel.h>
#include <linux/timekeeping.h>

#include "kapi.h"

struct ptp_clock *ptp_clock_register(struct ptp_clock_info *info, struct device *parent)
{
	if (parent)
		dev_info(parent, "PTP clock %s not registered: side exposes no PTP hardware clocks\n",
			 info ? info->name : "?");
	return ERR_PTR(-EOPNOTSUPP);
}

int ptp_clock_unregister(struct ptp_clock *ptp)
{
	side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "ptp_clock_unregister of %px, which was never registered", ptp);
}

int ptp_clock_index(struct ptp_clock *ptp)
{
	side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "ptp_clock_index of %px, which was never registered", ptp);
}

/* The ART is absent (X86_FEATURE_ART is clear in boot_cpu_data): the kernel's conversion would divide by zero. */
struct system_counterval_t convert_art_to_tsc(u64 art)
{
	side_fault(SIDE_FAULT_BUG, SIDE_CALLER, "convert_art_to_tsc without an Always Running Timer");
}

int get_device_system_crosststamp(int (*get_time_fn)(ktime_t *device_time, struct system_counterval_t *sys_counterval,
						      void *ctx),
				  void *ctx, struct system_time_snapshot *history,
				  struct system_device_crosststamp *xtstamp)
{
	struct system_counterval_t counter = { 0 };
	int ret = get_time_fn(&xtstamp->device, &counter, ctx);

	if (ret)
		return ret;
	/* The device's counter is not the clocksource of the domain clock: no correlation exists. */
	return -ENODEV;
}
