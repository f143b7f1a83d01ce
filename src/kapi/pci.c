// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI driver registration and id matching. The host keeps the registry of drivers (it owns the devices and decides
 * which driver instance binds to which device); this side turns a driver's id table into plain records for it.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "kapi.h"

/* Bounds the walk over a driver-supplied table that might lack its terminating entry. */
#define SIDE_MAX_PCI_IDS 4096

static bool side_pci_id_is_terminator(const struct pci_device_id *id)
{
	return !id->vendor && !id->subvendor && !id->class_mask;
}

int __pci_register_driver(struct pci_driver *drv, struct module *owner, const char *mod_name)
{
	const struct pci_device_id *id;
	struct side_pci_id *ids;
	unsigned int n = 0, i;
	int err;

	if (!drv || !drv->name)
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "__pci_register_driver with no driver or name");
	drv->driver.name = drv->name;
	drv->driver.owner = owner;
	drv->driver.mod_name = mod_name;
	spin_lock_init(&drv->dynids.lock);
	INIT_LIST_HEAD(&drv->dynids.list);

	for (id = drv->id_table; id && !side_pci_id_is_terminator(id); id++)
		if (++n > SIDE_MAX_PCI_IDS)
			side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "%s: PCI id table has no terminator",
				   drv->name);
	ids = kcalloc(n ? n : 1, sizeof(*ids), GFP_KERNEL);
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		id = &drv->id_table[i];
		ids[i] = (struct side_pci_id){ id->vendor, id->device, id->subvendor, id->subdevice, id->class,
					       id->class_mask };
	}
	err = side_host_pci_register_driver(drv, drv->name, ids, n);
	kfree(ids);
	return err;
}

void pci_unregister_driver(struct pci_driver *drv)
{
	side_host_pci_unregister_driver(drv);
}

const struct pci_device_id *pci_match_id(const struct pci_device_id *ids, struct pci_dev *dev)
{
	unsigned int n = 0;

	for (; ids && !side_pci_id_is_terminator(ids) && n < SIDE_MAX_PCI_IDS; ids++, n++) {
		if ((ids->vendor == PCI_ANY_ID || ids->vendor == dev->vendor) &&
		    (ids->device == PCI_ANY_ID || ids->device == dev->device) &&
		    (ids->subvendor == PCI_ANY_ID || ids->subvendor == dev->subsystem_vendor) &&
		    (ids->subdevice == PCI_ANY_ID || ids->subdevice == dev->subsystem_device) &&
		    !((ids->class ^ dev->class) & ids->class_mask))
			return ids;
	}
	return NULL;
}
