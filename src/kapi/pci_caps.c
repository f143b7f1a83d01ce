// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI capability walks beyond the first match and what the PCI core answers about a function's presence and
 * SR-IOV (drivers/pci/pci.c, drivers/pci/iov.c). A domain's functions are conventional PCI with a 256-byte
 * configuration space and no SR-IOV: extended capabilities are never found, and a function is no physical
 * function, so enabling virtual functions fails as the kernel's does for such a device.
 */
#include <linux/pci.h>

#include "kapi.h"

/* __pci_find_next_cap_ttl(): bounded against loops (48 entries at most), as the kernel's. */
u8 pci_find_next_capability(struct pci_dev *dev, u8 pos, int cap)
{
	int ttl = 48;
	u16 ent;
	u8 id;

	pci_read_config_byte(dev, pos + PCI_CAP_LIST_NEXT, &pos);
	while (ttl--) {
		if (pos < 0x40)
			break;
		pos &= ~3;
		pci_read_config_word(dev, pos, &ent);
		id = ent & 0xff;
		if (id == 0xff)
			break;
		if (id == cap)
			return pos;
		pos = ent >> 8;
	}
	return 0;
}

/* Extended capabilities live past the first 256 bytes, which a conventional function does not have; for an
 * Express function the list is walked from 0x100, bounded as the kernel bounds it. */
u16 pci_find_ext_capability(struct pci_dev *dev, int cap)
{
	int ttl = (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 8;
	int pos = PCI_CFG_SPACE_SIZE;
	u32 header;

	if (dev->cfg_size <= PCI_CFG_SPACE_SIZE)
		return 0;
	if (pci_read_config_dword(dev, pos, &header) != PCIBIOS_SUCCESSFUL || header == 0)
		return 0;
	while (ttl-- > 0) {
		if (PCI_EXT_CAP_ID(header) == cap)
			return pos;
		pos = PCI_EXT_CAP_NEXT(header);
		if (pos < PCI_CFG_SPACE_SIZE)
			break;
		if (pci_read_config_dword(dev, pos, &header) != PCIBIOS_SUCCESSFUL)
			break;
	}
	return 0;
}

/* pci_device_is_present(): the vendor id reads back as something other than all ones (a surprise removal). */
bool pci_device_is_present(struct pci_dev *pdev)
{
	u32 v;

	if (pdev->error_state == pci_channel_io_perm_failure)
		return false;
	if (pci_read_config_dword(pdev, PCI_VENDOR_ID, &v))
		return false;
	return v != 0xffffffff && v != 0 && v != 0x0000ffff && v != 0xffff0000;
}

int pci_enable_sriov(struct pci_dev *dev, int nr_virtfn)
{
	might_sleep();
	if (!dev->is_physfn)
		return -ENOSYS;
	return -ENODEV;
}

void pci_disable_sriov(struct pci_dev *dev)
{
	might_sleep();
}

int pci_vfs_assigned(struct pci_dev *dev)
{
	return 0;
}
