// SPDX-License-Identifier: GPL-2.0-only
/*
 * A device's latency tolerance as user space sets it (drivers/base/power/qos.c, DEV_PM_QOS_LATENCY_TOLERANCE):
 * one user request per device. Adding, changing or dropping it changes the device's effective tolerance (the
 * request's value, or PM_QOS_LATENCY_TOLERANCE_NO_CONSTRAINT without one), and the device's
 * power.set_latency_tolerance hears of every change, as apply_constraint() tells it. Exposing the sysfs knob
 * needs that callback; hiding it drops the request. The requests are kept here, not in dev->power.qos, which
 * stays NULL: no other QoS class is offered.
 */
#include <linux/device.h>
#include <linux/mutex.h>
#include <linux/pm_qos.h>
#include <linux/slab.h>

#include "kapi.h"

struct side_tolerance_req {
	struct list_head node;
	struct device *dev;
	s32 value;
};

static DEFINE_MUTEX(side_dev_qos_lock);
static LIST_HEAD(side_tolerance_reqs);

static struct side_tolerance_req *side_tolerance_find(struct device *dev)
{
	struct side_tolerance_req *r;

	list_for_each_entry(r, &side_tolerance_reqs, node) {
		if (r->dev == dev)
			return r;
	}
	return NULL;
}

static void side_tolerance_changed(struct device *dev, s32 value)
{
	if (dev->power.set_latency_tolerance)
		dev->power.set_latency_tolerance(dev, value);
}

static void side_tolerance_drop(struct side_tolerance_req *r)
{
	list_del(&r->node);
	side_tolerance_changed(r->dev, PM_QOS_LATENCY_TOLERANCE_NO_CONSTRAINT);
	kfree(r);
}

static int side_tolerance_add(struct device *dev, s32 val)
{
	struct side_tolerance_req *r;

	if (val < 0)
		return val == PM_QOS_LATENCY_TOLERANCE_NO_CONSTRAINT ? 0 : -EINVAL;
	r = kzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	r->dev = dev;
	r->value = val;
	list_add(&r->node, &side_tolerance_reqs);
	side_tolerance_changed(dev, val);
	return 0;
}

int dev_pm_qos_update_user_latency_tolerance(struct device *dev, s32 val)
{
	struct side_tolerance_req *r;
	int ret = 0;

	mutex_lock(&side_dev_qos_lock);
	r = side_tolerance_find(dev);
	if (!r) {
		ret = side_tolerance_add(dev, val);
	} else if (val < 0) {
		side_tolerance_drop(r);
	} else if (r->value != val) {
		r->value = val;
		side_tolerance_changed(dev, val);
	}
	mutex_unlock(&side_dev_qos_lock);
	return ret;
}

s32 dev_pm_qos_get_user_latency_tolerance(struct device *dev)
{
	struct side_tolerance_req *r;
	s32 ret;

	mutex_lock(&side_dev_qos_lock);
	r = side_tolerance_find(dev);
	ret = r ? r->value : PM_QOS_LATENCY_TOLERANCE_NO_CONSTRAINT;
	mutex_unlock(&side_dev_qos_lock);
	return ret;
}

int dev_pm_qos_expose_latency_tolerance(struct device *dev)
{
	return dev->power.set_latency_tolerance ? 0 : -EINVAL;
}

void dev_pm_qos_hide_latency_tolerance(struct device *dev)
{
	struct side_tolerance_req *r;

	mutex_lock(&side_dev_qos_lock);
	r = side_tolerance_find(dev);
	if (r)
		side_tolerance_drop(r);
	mutex_unlock(&side_dev_qos_lock);
}
