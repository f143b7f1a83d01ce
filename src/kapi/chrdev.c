// SPDX-License-Identifier: GPL-2.0-only
/*
 * Character device numbers and objects (fs/char_dev.c) and device classes (drivers/base/class.c). A domain has
 * no file system through which a process could open a character device, so a cdev only records what it serves;
 * the device numbers are still allocated as Linux allocates them (dynamic majors from 254 down to 234, then 511
 * down to 384), so that two regions never share numbers and a region released is free again.
 */
#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/device/class.h>
#include <linux/kdev_t.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "kapi.h"

#define SIDE_CHRDEV_REGIONS 16

struct side_chrdev_region {
	dev_t base;
	unsigned int count;
	char name[64];
};

static DEFINE_SPINLOCK(side_chrdev_lock);
static struct side_chrdev_region side_chrdevs[SIDE_CHRDEV_REGIONS];

static bool side_major_used(unsigned int major)
{
	unsigned int i;

	for (i = 0; i < SIDE_CHRDEV_REGIONS; i++) {
		if (side_chrdevs[i].count && MAJOR(side_chrdevs[i].base) == major)
			return true;
	}
	return false;
}

/* find_dynamic_major(): the first free major of the two dynamic ranges, 0 if none. */
static unsigned int side_dynamic_major(void)
{
	unsigned int major;

	for (major = 254; major >= 234; major--) {
		if (!side_major_used(major))
			return major;
	}
	for (major = 511; major >= 384; major--) {
		if (!side_major_used(major))
			return major;
	}
	return 0;
}

int alloc_chrdev_region(dev_t *dev, unsigned int baseminor, unsigned int count, const char *name)
{
	unsigned int i, major;
	int ret = -EBUSY;

	if (!count || baseminor + count - 1 > MINORMASK || baseminor + count < baseminor)
		return -EINVAL;
	spin_lock(&side_chrdev_lock);
	major = side_dynamic_major();
	for (i = 0; major && i < SIDE_CHRDEV_REGIONS; i++) {
		if (side_chrdevs[i].count)
			continue;
		side_chrdevs[i].base = MKDEV(major, baseminor);
		side_chrdevs[i].count = count;
		strscpy(side_chrdevs[i].name, name, sizeof(side_chrdevs[i].name));
		*dev = side_chrdevs[i].base;
		ret = 0;
		break;
	}
	spin_unlock(&side_chrdev_lock);
	return ret;
}

void unregister_chrdev_region(dev_t from, unsigned int count)
{
	unsigned int i;

	spin_lock(&side_chrdev_lock);
	for (i = 0; i < SIDE_CHRDEV_REGIONS; i++) {
		if (side_chrdevs[i].count && side_chrdevs[i].base == from && side_chrdevs[i].count == count) {
			side_chrdevs[i].count = 0;
			break;
		}
	}
	spin_unlock(&side_chrdev_lock);
	if (i == SIDE_CHRDEV_REGIONS)
		pr_warn("unregister_chrdev_region: %u:%u (+%u) was not registered (from %pS)\n", MAJOR(from),
			MINOR(from), count, (void *)SIDE_CALLER);
}

void cdev_init(struct cdev *cdev, const struct file_operations *fops)
{
	memset(cdev, 0, sizeof(*cdev));
	INIT_LIST_HEAD(&cdev->list);
	kref_init(&cdev->kobj.kref);
	cdev->ops = fops;
}

/* The cdev takes the device's number; the device is added after it, and a failed add takes the cdev back. */
int cdev_device_add(struct cdev *cdev, struct device *dev)
{
	int rc;

	if (dev->devt) {
		cdev->dev = dev->devt;
		cdev->count = 1;
		cdev->kobj.parent = &dev->kobj;
	}
	rc = device_add(dev);
	if (rc && dev->devt)
		cdev->count = 0;
	return rc;
}

void cdev_device_del(struct cdev *cdev, struct device *dev)
{
	device_del(dev);
	if (dev->devt)
		cdev->count = 0;
}

struct class *__class_create(struct module *owner, const char *name, struct lock_class_key *key)
{
	struct class *cls = kzalloc(sizeof(*cls), GFP_KERNEL);

	if (!cls)
		return ERR_PTR(-ENOMEM);
	cls->name = name;
	cls->owner = owner;
	return cls;
}

void class_destroy(struct class *cls)
{
	if (IS_ERR_OR_NULL(cls))
		return;
	kfree(cls);
}
