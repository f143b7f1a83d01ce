// SPDX-License-Identifier: GPL-2.0-only
/*
 * Firmware loading (drivers/base/firmware_loader). The kernel looks for the file under /lib/firmware; a domain has
 * no file system (its sandbox opens nothing), and side ships no firmware store yet, so every lookup finds no file:
 * the kernel's answer on a machine without the package that holds it, -ENOENT with its message. Drivers treat that
 * as they do there (e100 runs without its optional microcode). No struct firmware is ever handed out, so releasing
 * anything but NULL is a driver bug.
 */
#include <linux/device.h>
#include <linux/firmware.h>

#include "kapi.h"

int request_firmware(const struct firmware **firmware_p, const char *name, struct device *device)
{
	if (!firmware_p)
		return -EINVAL;
	*firmware_p = NULL;
	if (!name || name[0] == '\0')
		return -EINVAL;
	if (device)
		dev_warn(device, "Direct firmware load for %s failed with error %d\n", name, -ENOENT);
	else
		pr_warn("Direct firmware load for %s failed with error %d\n", name, -ENOENT);
	return -ENOENT;
}

void release_firmware(const struct firmware *fw)
{
	if (fw)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "release_firmware of %px, which was never loaded", fw);
}
