// SPDX-License-Identifier: GPL-2.0-only
/*
 * The driver core for buses a driver module defines itself (drivers/base/{bus,dd,core}.c): virtio.ko registers the
 * virtio bus, virtio_pci.ko adds a virtio device on it from its PCI probe, and virtio_net.ko's driver binds to that
 * device. As in the kernel, a device added to a bus is offered to every driver of the bus, a driver registered on
 * a bus to every unbound device; the bus's match() decides and its probe() (else the driver's) binds. Unbinding
 * calls remove() and releases the device's managed resources; the last put_device() calls its release().
 *
 * The PCI bus is not one of these: its devices come from the host (pci.c). Sysfs, uevents to user space and
 * asynchronous probing do not exist in a domain, so nothing here waits for them.
 */
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/slab.h>

#include "kapi.h"

/* A domain holds a handful of buses, drivers and devices; the bound keeps every walk below finite. */
#define SIDE_MAX_BUS_ENTRIES 64

struct side_bus_entry {
	struct list_head link;
	struct bus_type *bus;
	struct device_driver *drv; /* a driver of `bus`, or NULL */
	struct device *dev;        /* a device on `bus`, or NULL */
};

static DEFINE_MUTEX(side_bus_mutex);
static LIST_HEAD(side_bus_entries);
static unsigned int side_bus_nr_entries;

static struct side_bus_entry *side_bus_find(struct bus_type *bus, struct device_driver *drv, struct device *dev)
{
	struct side_bus_entry *e;

	list_for_each_entry(e, &side_bus_entries, link)
		if (e->bus == bus && e->drv == drv && e->dev == dev)
			return e;
	return NULL;
}

static int side_bus_add(struct bus_type *bus, struct device_driver *drv, struct device *dev)
{
	struct side_bus_entry *e;

	if (side_bus_nr_entries >= SIDE_MAX_BUS_ENTRIES)
		return -ENOMEM;
	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	e->bus = bus;
	e->drv = drv;
	e->dev = dev;
	list_add_tail(&e->link, &side_bus_entries);
	side_bus_nr_entries++;
	return 0;
}

static void side_bus_del(struct side_bus_entry *e)
{
	list_del(&e->link);
	side_bus_nr_entries--;
	kfree(e);
}

int bus_register(struct bus_type *bus)
{
	int err = -EEXIST;
	struct side_bus_entry *e;

	mutex_lock(&side_bus_mutex);
	list_for_each_entry(e, &side_bus_entries, link)
		if (!e->drv && !e->dev && (e->bus == bus || !strcmp(e->bus->name, bus->name)))
			goto out;
	err = side_bus_add(bus, NULL, NULL);
out:
	mutex_unlock(&side_bus_mutex);
	return err;
}

/* The kernel's bus_unregister() expects the bus's drivers and devices gone; those left are a driver bug. */
void bus_unregister(struct bus_type *bus)
{
	struct side_bus_entry *e, *tmp, *self = NULL;

	mutex_lock(&side_bus_mutex);
	list_for_each_entry_safe(e, tmp, &side_bus_entries, link) {
		if (e->bus != bus)
			continue;
		if (!e->drv && !e->dev)
			self = e;
		else
			WARN(1, "bus %s unregistered with %s %s still on it\n", bus->name,
			     e->drv ? "driver" : "device", e->drv ? e->drv->name : dev_name(e->dev));
	}
	if (self)
		side_bus_del(self);
	mutex_unlock(&side_bus_mutex);
}

static bool side_bus_registered(struct bus_type *bus)
{
	return bus && side_bus_find(bus, NULL, NULL);
}

/* really_probe(): the bus's probe, else the driver's; on failure the device is unbound again. */
static int side_really_probe(struct device *dev, struct device_driver *drv)
{
	int ret;

	dev->driver = drv;
	if (dev->bus->probe)
		ret = dev->bus->probe(dev);
	else if (drv->probe)
		ret = drv->probe(dev);
	else
		ret = 0;
	if (ret) {
		side_devres_release_all(dev);
		dev->driver = NULL;
		dev_set_drvdata(dev, NULL);
		if (ret != -ENODEV && ret != -ENXIO)
			pr_warn("%s: probe of %s failed with error %d\n", drv->name, dev_name(dev), ret);
	}
	return ret;
}

/* __driver_attach()/__device_attach_driver(): match, then probe under the device lock. 1 when bound. */
static int side_try_bind(struct device *dev, struct device_driver *drv)
{
	int ret, match = dev->bus->match ? dev->bus->match(dev, drv) : 1;

	if (match <= 0)
		return 0;
	device_lock(dev);
	ret = dev->driver ? 0 : !side_really_probe(dev, drv);
	device_unlock(dev);
	return ret;
}

/* device_release_driver(): remove() through the bus (else the driver), then the managed resources. */
static void side_release_driver(struct device *dev)
{
	device_lock(dev);
	if (dev->driver) {
		if (dev->bus && dev->bus->remove)
			dev->bus->remove(dev);
		else if (dev->driver->remove)
			dev->driver->remove(dev);
		side_devres_release_all(dev);
		dev->driver = NULL;
		dev_set_drvdata(dev, NULL);
	}
	device_unlock(dev);
}

/* The next device of `bus` that `pred` accepts, walked under the registry lock and returned outside it. */
static struct device *side_next_device(struct bus_type *bus, struct device *after,
				       bool (*pred)(struct device *, struct device_driver *), struct device_driver *drv)
{
	struct side_bus_entry *e;
	struct device *found = NULL;
	bool past = !after;

	mutex_lock(&side_bus_mutex);
	list_for_each_entry(e, &side_bus_entries, link) {
		if (e->bus != bus || !e->dev)
			continue;
		if (!past) {
			past = e->dev == after;
			continue;
		}
		if (pred(e->dev, drv)) {
			found = e->dev;
			break;
		}
	}
	mutex_unlock(&side_bus_mutex);
	return found;
}

static bool side_unbound(struct device *dev, struct device_driver *drv)
{
	return !dev->driver;
}

static bool side_bound_to(struct device *dev, struct device_driver *drv)
{
	return dev->driver == drv;
}

int driver_register(struct device_driver *drv)
{
	struct device *dev = NULL;
	int err;

	mutex_lock(&side_bus_mutex);
	if (!side_bus_registered(drv->bus)) {
		pr_err("Driver '%s' was unable to register with bus_type '%s' because the bus was not initialized.\n",
		       drv->name, drv->bus ? drv->bus->name : "(none)");
		err = -EINVAL;
	} else {
		err = side_bus_find(drv->bus, drv, NULL) ? -EBUSY : side_bus_add(drv->bus, drv, NULL);
	}
	mutex_unlock(&side_bus_mutex);
	if (err)
		return err;
	/* driver_attach(): every unbound device of the bus is offered; a failed probe does not fail the register. */
	while ((dev = side_next_device(drv->bus, dev, side_unbound, drv)))
		side_try_bind(dev, drv);
	return 0;
}

void driver_unregister(struct device_driver *drv)
{
	struct side_bus_entry *e;
	struct device *dev;
	unsigned int n = 0;

	while (n++ < SIDE_MAX_BUS_ENTRIES && (dev = side_next_device(drv->bus, NULL, side_bound_to, drv)))
		side_release_driver(dev);
	mutex_lock(&side_bus_mutex);
	e = side_bus_find(drv->bus, drv, NULL);
	if (e)
		side_bus_del(e);
	mutex_unlock(&side_bus_mutex);
	if (!e)
		WARN(1, "Unexpected driver unregister of %s\n", drv->name);
}

/* bus_add_device() and bus_probe_device(): the device joins its bus and the first driver that matches binds it. */
static int side_bus_add_device(struct device *dev)
{
	struct side_bus_entry *e;
	struct device_driver *drv[SIDE_MAX_BUS_ENTRIES];
	unsigned int i, n = 0;
	int err;

	mutex_lock(&side_bus_mutex);
	if (!side_bus_registered(dev->bus)) {
		/* bus_get() of a bus never registered is NULL: the kernel adds the device without a bus. */
		mutex_unlock(&side_bus_mutex);
		return 0;
	}
	err = side_bus_add(dev->bus, NULL, dev);
	list_for_each_entry(e, &side_bus_entries, link)
		if (!err && e->bus == dev->bus && e->drv && n < ARRAY_SIZE(drv))
			drv[n++] = e->drv;
	mutex_unlock(&side_bus_mutex);
	for (i = 0; i < n && !dev->driver; i++)
		side_try_bind(dev, drv[i]);
	return err;
}

/* Called by device_del(): unbinds the device and takes it off its bus. */
void side_bus_remove_device(struct device *dev)
{
	struct side_bus_entry *e;

	side_release_driver(dev);
	mutex_lock(&side_bus_mutex);
	e = dev->bus ? side_bus_find(dev->bus, NULL, dev) : NULL;
	if (e)
		side_bus_del(e);
	mutex_unlock(&side_bus_mutex);
}

int side_device_add_to_bus(struct device *dev)
{
	return dev->bus ? side_bus_add_device(dev) : 0;
}
