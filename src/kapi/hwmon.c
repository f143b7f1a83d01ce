// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hardware monitoring devices (drivers/hwmon/hwmon.c): a registration checks what Linux checks (a parent, a name
 * without the characters user space cannot parse, a chip with ops, is_visible and channel info) and adds a
 * "hwmonN" device under the parent, with the driver's data; unregistering deletes it and frees its number. Its
 * sensors are read through sysfs, which a domain does not export, so the chip's callbacks are never called.
 */
#include <linux/device.h>
#include <linux/hwmon.h>
#include <linux/idr.h>
#include <linux/slab.h>

#include "kapi.h"

struct side_hwmon {
	struct device dev;
	const char *name;
	const struct hwmon_chip_info *chip;
	int id;
};

static DEFINE_IDA(side_hwmon_ida);

static void side_hwmon_release(struct device *dev)
{
	kfree(container_of(dev, struct side_hwmon, dev));
}

static bool side_hwmon_name_ok(const char *name)
{
	return !name || !strpbrk(name, "-* \t\n");
}

struct device *hwmon_device_register_with_info(struct device *dev, const char *name, void *drvdata,
					       const struct hwmon_chip_info *chip,
					       const struct attribute_group **extra_groups)
{
	struct side_hwmon *hw;
	int id, err;

	if (!dev || !name)
		return ERR_PTR(-EINVAL);
	if (chip && (!chip->ops || !chip->ops->is_visible || !chip->info))
		return ERR_PTR(-EINVAL);
	if (!side_hwmon_name_ok(name))
		dev_warn(dev, "hwmon: '%s' is not a valid name attribute, please fix\n", name);
	id = ida_alloc(&side_hwmon_ida, GFP_KERNEL);
	if (id < 0)
		return ERR_PTR(id);
	hw = kzalloc(sizeof(*hw), GFP_KERNEL);
	if (!hw) {
		ida_free(&side_hwmon_ida, id);
		return ERR_PTR(-ENOMEM);
	}
	hw->name = name;
	hw->chip = chip;
	hw->id = id;
	device_initialize(&hw->dev);
	hw->dev.parent = dev;
	hw->dev.release = side_hwmon_release;
	dev_set_drvdata(&hw->dev, drvdata);
	err = dev_set_name(&hw->dev, "hwmon%d", id);
	if (!err)
		err = device_add(&hw->dev);
	if (err) {
		ida_free(&side_hwmon_ida, id);
		put_device(&hw->dev);
		return ERR_PTR(err);
	}
	return &hw->dev;
}

void hwmon_device_unregister(struct device *dev)
{
	struct side_hwmon *hw = container_of(dev, struct side_hwmon, dev);
	int id = hw->id;

	device_unregister(dev);
	ida_free(&side_hwmon_ida, id);
}
