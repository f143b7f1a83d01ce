// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device objects of the driver core (drivers/base/core.c, lib/kobject.c): initialisation, naming, adding to and
 * deleting from a bus (driver_core.c binds them), and reference counting with the release() a device's owner gives.
 * In a domain a device has no sysfs directory and sends no uevent; add_uevent_var() fills the environment a bus's
 * uevent() builds exactly as the kernel's does.
 */
#include <linux/device.h>
#include <linux/kobject.h>
#include <linux/slab.h>

#include "kapi.h"

int side_device_add_to_bus(struct device *dev);
void side_bus_remove_device(struct device *dev);

void device_initialize(struct device *dev)
{
	kref_init(&dev->kobj.kref);
	dev->kobj.state_initialized = 1;
	INIT_LIST_HEAD(&dev->dma_pools);
	mutex_init(&dev->mutex);
	spin_lock_init(&dev->devres_lock);
	INIT_LIST_HEAD(&dev->devres_head);
	set_dev_node(dev, NUMA_NO_NODE);
}

/* kobject_set_name_vargs(): the name is the device's own copy; a previous one is freed. */
int dev_set_name(struct device *dev, const char *fmt, ...)
{
	va_list args;
	char *name, *c;

	va_start(args, fmt);
	name = kvasprintf(GFP_KERNEL, fmt, args);
	va_end(args);
	if (!name)
		return -ENOMEM;
	/* kobject names cannot hold a '/' (they are sysfs directory names): the kernel replaces it with '!'. */
	for (c = name; *c; c++)
		if (*c == '/')
			*c = '!';
	kfree(dev->kobj.name);
	dev->kobj.name = name;
	return 0;
}

struct device *get_device(struct device *dev)
{
	if (dev)
		kref_get(&dev->kobj.kref);
	return dev;
}

/* device_release() through kobject_cleanup(): the owner's release, then the name. */
static void side_device_release(struct kref *kref)
{
	struct device *dev = container_of(kref, struct device, kobj.kref);
	const char *name = dev->kobj.name;

	side_devres_release_all(dev);
	if (dev->release)
		dev->release(dev);
	else if (dev->type && dev->type->release)
		dev->type->release(dev);
	else if (dev->class && dev->class->dev_release)
		dev->class->dev_release(dev);
	else
		WARN(1, "Device '%s' does not have a release() function, it is broken and must be fixed.\n", name);
	kfree(name);
}

void put_device(struct device *dev)
{
	if (dev)
		kref_put(&dev->kobj.kref, side_device_release);
}

/*
 * The parent is not referenced: the only parents in a domain are the host's PCI devices, which pci.c removes only
 * after their driver's remove() deleted its children.
 */
int device_add(struct device *dev)
{
	int err;

	dev = get_device(dev);
	if (!dev)
		return -EINVAL;
	if (dev->init_name) {
		err = dev_set_name(dev, "%s", dev->init_name);
		dev->init_name = NULL;
		if (err)
			goto out;
	}
	if (!dev_name(dev) && dev->bus && dev->bus->dev_name) {
		err = dev_set_name(dev, "%s%u", dev->bus->dev_name, dev->id);
		if (err)
			goto out;
	}
	err = dev_name(dev) ? side_device_add_to_bus(dev) : -EINVAL;
	if (!err)
		dev->kobj.state_in_sysfs = 1;
out:
	put_device(dev);
	return err;
}

void device_del(struct device *dev)
{
	if (!dev->kobj.state_in_sysfs) {
		WARN(1, "device_del() of %s, which was never added\n", dev_name(dev) ?: "(unnamed)");
		return;
	}
	side_bus_remove_device(dev);
	dev->kobj.state_in_sysfs = 0;
}

void device_unregister(struct device *dev)
{
	device_del(dev);
	put_device(dev);
}

int add_uevent_var(struct kobj_uevent_env *env, const char *format, ...)
{
	size_t room;
	va_list args;
	int len;

	if (env->envp_idx >= ARRAY_SIZE(env->envp)) {
		WARN(1, KERN_ERR "add_uevent_var: too many keys\n");
		return -ENOMEM;
	}
	room = sizeof(env->buf) - env->buflen;
	va_start(args, format);
	len = vsnprintf(&env->buf[env->buflen], room, format, args);
	va_end(args);
	if (len >= room) {
		WARN(1, KERN_ERR "add_uevent_var: buffer size too small\n");
		return -ENOMEM;
	}
	env->envp[env->envp_idx++] = &env->buf[env->buflen];
	env->buflen += len + 1;
	return 0;
}
