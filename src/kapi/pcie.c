// SPDX-License-Identifier: GPL-2.0-only
/*
 * PCI Express capability registers (drivers/pci/access.c), link power states (pcie/aspm.c) and advanced error
 * reporting (pcie/aer.c). Registers a function does not implement for its port type read as 0 and ignore writes.
 * side's bus has no bridge above a device, so there is no link whose ASPM could be changed (-EINVAL, as for a
 * device without an upstream PCIe port), and no extended configuration space, so no AER capability (-EIO).
 */
#include <linux/pci.h>

#include "kapi.h"

static DEFINE_SPINLOCK(side_pcie_cap_lock);

static bool side_pcie_has_lnkctl(struct pci_dev *dev)
{
	int type = pci_pcie_type(dev);

	return type == PCI_EXP_TYPE_ENDPOINT || type == PCI_EXP_TYPE_LEG_END || type == PCI_EXP_TYPE_ROOT_PORT ||
	       type == PCI_EXP_TYPE_UPSTREAM || type == PCI_EXP_TYPE_DOWNSTREAM ||
	       type == PCI_EXP_TYPE_PCI_BRIDGE || type == PCI_EXP_TYPE_PCIE_BRIDGE;
}

static bool side_pcie_has_sltctl(struct pci_dev *dev)
{
	int type = pci_pcie_type(dev);

	return type == PCI_EXP_TYPE_ROOT_PORT ||
	       (type == PCI_EXP_TYPE_DOWNSTREAM && (pcie_caps_reg(dev) & PCI_EXP_FLAGS_SLOT));
}

static bool side_pcie_reg_implemented(struct pci_dev *dev, int pos)
{
	if (!pci_is_pcie(dev))
		return false;
	switch (pos) {
	case PCI_EXP_FLAGS:
	case PCI_EXP_DEVCAP:
	case PCI_EXP_DEVCTL:
	case PCI_EXP_DEVSTA:
		return true;
	case PCI_EXP_LNKCAP:
	case PCI_EXP_LNKCTL:
	case PCI_EXP_LNKSTA:
		return side_pcie_has_lnkctl(dev);
	case PCI_EXP_SLTCAP:
	case PCI_EXP_SLTCTL:
	case PCI_EXP_SLTSTA:
		return side_pcie_has_sltctl(dev);
	case PCI_EXP_RTCTL:
	case PCI_EXP_RTCAP:
	case PCI_EXP_RTSTA:
		return pci_pcie_type(dev) == PCI_EXP_TYPE_ROOT_PORT || pci_pcie_type(dev) == PCI_EXP_TYPE_RC_EC;
	case PCI_EXP_DEVCAP2:
	case PCI_EXP_DEVCTL2:
	case PCI_EXP_LNKCAP2:
	case PCI_EXP_LNKCTL2:
	case PCI_EXP_LNKSTA2:
		return (pcie_caps_reg(dev) & PCI_EXP_FLAGS_VERS) > 1;
	default:
		return false;
	}
}

int pcie_capability_read_word(struct pci_dev *dev, int pos, u16 *val)
{
	int ret;

	*val = 0;
	if (pos & 1)
		return PCIBIOS_BAD_REGISTER_NUMBER;
	if (!side_pcie_reg_implemented(dev, pos))
		return 0;
	ret = pci_read_config_word(dev, pci_pcie_cap(dev) + pos, val);
	if (ret)
		*val = 0;
	return ret;
}

int pcie_capability_read_dword(struct pci_dev *dev, int pos, u32 *val)
{
	int ret;

	*val = 0;
	if (pos & 3)
		return PCIBIOS_BAD_REGISTER_NUMBER;
	if (!side_pcie_reg_implemented(dev, pos))
		return 0;
	ret = pci_read_config_dword(dev, pci_pcie_cap(dev) + pos, val);
	if (ret)
		*val = 0;
	return ret;
}

int pcie_capability_write_word(struct pci_dev *dev, int pos, u16 val)
{
	if (pos & 1)
		return PCIBIOS_BAD_REGISTER_NUMBER;
	if (!side_pcie_reg_implemented(dev, pos))
		return 0;
	return pci_write_config_word(dev, pci_pcie_cap(dev) + pos, val);
}

int pcie_capability_clear_and_set_word_unlocked(struct pci_dev *dev, int pos, u16 clear, u16 set)
{
	u16 val;
	int ret = pcie_capability_read_word(dev, pos, &val);

	if (ret)
		return ret;
	return pcie_capability_write_word(dev, pos, (val & ~clear) | set);
}

int pcie_capability_clear_and_set_word_locked(struct pci_dev *dev, int pos, u16 clear, u16 set)
{
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&side_pcie_cap_lock, flags);
	ret = pcie_capability_clear_and_set_word_unlocked(dev, pos, clear, set);
	spin_unlock_irqrestore(&side_pcie_cap_lock, flags);
	return ret;
}

/* pcie_aspm_get_link(): the link state lives in the upstream bridge, and side's devices have none. */
int pci_disable_link_state(struct pci_dev *pdev, int state)
{
	return -EINVAL;
}

int pci_disable_link_state_locked(struct pci_dev *pdev, int state)
{
	return -EINVAL;
}

/* ASPM state lives in the link of the bridge above a function; a domain's functions sit on a bus with no bridge
 * (no link state), for which Linux reports ASPM off. */
bool pcie_aspm_enabled(struct pci_dev *pdev)
{
	return false;
}

/* pcie_aer_is_native() is false without an AER capability (it is in extended configuration space). */
int pci_enable_pcie_error_reporting(struct pci_dev *dev)
{
	return -EIO;
}

int pci_disable_pcie_error_reporting(struct pci_dev *dev)
{
	return -EIO;
}

/* set_pcie_port_type(): the capability's place and flags, read once when the device is bound. */
void side_pcie_init(struct pci_dev *dev)
{
	int pos = pci_find_capability(dev, PCI_CAP_ID_EXP);
	u16 flags = 0;

	if (!pos)
		return;
	dev->pcie_cap = pos;
	pci_read_config_word(dev, pos + PCI_EXP_FLAGS, &flags);
	dev->pcie_flags_reg = flags;
}
