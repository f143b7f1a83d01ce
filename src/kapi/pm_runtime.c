// SPDX-License-Identifier: GPL-2.0-only
/*
 * Runtime power management (drivers/base/power/runtime.c) for the domain's PCI devices. The PCI core leaves each
 * device active, runtime PM enabled but forbidden (pm_runtime_forbid(): one usage reference until user space
 * writes "auto" to power/control), and holds another reference while a driver is bound (local_pci_probe()'s get,
 * dropped after remove()). side_pm_runtime_bind()/unbind() do the same. A domain has no power/control file, so
 * the forbid reference is never dropped: suspend requests see a busy device (-EAGAIN), resume finds it active (1),
 * exactly what the kernel answers with the default policy. Counts are checked as the kernel does (an underflow is
 * its warning and -EINVAL).
 */
#include <linux/pci.h>
#include <linux/pm_runtime.h>
#include <linux/pm_wakeup.h>
#include <linux/suspend.h>

#include "kapi.h"

/* No system sleep ever happens in a domain: no platform flags are set. */
unsigned int pm_suspend_global_flags;

void side_pm_runtime_bind(struct device *dev)
{
	spin_lock_init(&dev->power.lock);
	dev->power.runtime_status = RPM_ACTIVE;
	dev->power.disable_depth = 0;
	dev->power.runtime_auto = false;
	atomic_set(&dev->power.usage_count, 2); /* forbidden, and a driver is being bound */
}

void side_pm_runtime_unbind(struct device *dev)
{
	atomic_dec(&dev->power.usage_count);
}

static void side_rpm_check_device(struct device *dev, unsigned long caller)
{
	u32 host;

	if (side_pci_host_device(dev, &host))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "runtime PM of %px, which is not a device of this domain",
			   dev);
}

/* rpm_drop_usage_count(): the new count, or -EINVAL (and the count restored) on an underflow. */
static int side_rpm_drop_usage(struct device *dev)
{
	int ret = atomic_sub_return(1, &dev->power.usage_count);

	if (ret >= 0)
		return ret;
	atomic_inc(&dev->power.usage_count);
	dev_warn(dev, "Runtime PM usage count underflow!\n");
	return -EINVAL;
}

/* rpm_check_suspend_allowed(): why the device cannot be suspended now, or 0. */
static int side_rpm_suspend_allowed(struct device *dev)
{
	if (dev->power.runtime_error)
		return -EINVAL;
	if (dev->power.disable_depth > 0)
		return -EACCES;
	if (atomic_read(&dev->power.usage_count))
		return -EAGAIN;
	if (!dev->power.ignore_children && atomic_read(&dev->power.child_count))
		return -EBUSY;
	return 0;
}

/* Reached only with no usage reference at all, which the forbid reference rules out: a suspend would need the
 * device and driver callbacks side does not run, so it is refused loudly rather than pretended. */
static int side_rpm_cannot_suspend(struct device *dev, unsigned long caller)
{
	side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "%s: runtime suspend with no usage reference left",
		   dev_name(dev));
}

/* A _put variant's usage reference: false when the caller is done, with *ret its answer (others still hold the
 * device, or the count underflowed); true when no reference is left and the device may be suspended. */
static bool side_rpm_put_was_last(struct device *dev, int rpmflags, int *ret)
{
	*ret = 0;
	if (!(rpmflags & RPM_GET_PUT))
		return true;
	*ret = side_rpm_drop_usage(dev);
	if (*ret == 0)
		return true;
	if (*ret > 0)
		*ret = 0;
	return false;
}

/* rpm_idle() (`idle`) and rpm_suspend(): why the device stays active, or the fault a real suspend would be. */
static int side_rpm_try_suspend(struct device *dev, bool idle, unsigned long caller)
{
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&dev->power.lock, flags);
	ret = side_rpm_suspend_allowed(dev);
	/* rpm_idle(): a device that is not active is not idled again. */
	if (idle && !ret && dev->power.runtime_status != RPM_ACTIVE)
		ret = -EAGAIN;
	spin_unlock_irqrestore(&dev->power.lock, flags);
	return ret ? ret : side_rpm_cannot_suspend(dev, caller);
}

/* rpm_idle() and rpm_suspend(), after a _put variant's drop of its usage reference. */
static int side_rpm_put_and_suspend(struct device *dev, int rpmflags, bool idle, unsigned long caller)
{
	int ret;

	side_rpm_check_device(dev, caller);
	if (!side_rpm_put_was_last(dev, rpmflags, &ret))
		return ret;
	return side_rpm_try_suspend(dev, idle, caller);
}

int __pm_runtime_idle(struct device *dev, int rpmflags)
{
	return side_rpm_put_and_suspend(dev, rpmflags, true, SIDE_CALLER);
}

int __pm_runtime_suspend(struct device *dev, int rpmflags)
{
	return side_rpm_put_and_suspend(dev, rpmflags, false, SIDE_CALLER);
}

int __pm_runtime_resume(struct device *dev, int rpmflags)
{
	int ret;

	side_rpm_check_device(dev, SIDE_CALLER);
	if (rpmflags & RPM_GET_PUT)
		atomic_inc(&dev->power.usage_count);
	/* rpm_resume(): nothing ever suspends a domain's device (see above), so an enabled one is active. */
	if (dev->power.runtime_error)
		ret = -EINVAL;
	else if (dev->power.disable_depth > 0)
		ret = -EACCES;
	else if (dev->power.runtime_status == RPM_ACTIVE)
		ret = 1;
	else
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "%s: runtime resume of a suspended device",
			   dev_name(dev));
	return ret;
}

int pm_schedule_suspend(struct device *dev, unsigned int delay)
{
	side_rpm_check_device(dev, SIDE_CALLER);
	return side_rpm_try_suspend(dev, false, SIDE_CALLER);
}

/* The PCI core's view: whether the device can signal wake-up from its target low-power state by itself (PME). */
bool pci_dev_run_wake(struct pci_dev *dev)
{
	pci_power_t state = PCI_D3hot;

	if (!dev->pme_support)
		return false;
	while (state && !(dev->pme_support & (1 << state)))
		state--;
	if (!dev->pm_cap || !(dev->pme_support & (1 << (state ? state : PCI_D0))))
		return false;
	/* No bridge above it on side's bus: only the device's own wake-up capability counts. */
	return device_can_wakeup(&dev->dev);
}

int device_wakeup_enable(struct device *dev)
{
	return device_set_wakeup_enable(dev, true);
}
