// SPDX-License-Identifier: GPL-2.0-only
/*
 * Managed PCI (drivers/pci/devres.c): pcim_enable_device() makes the device "managed", after which its enable, the
 * regions it requests and the BARs mapped with pcim_iomap() are undone by devres when the driver lets go of the
 * device, in reverse order of acquisition.
 */
#include <linux/pci.h>

#include "kapi.h"

struct side_pci_devres {
	unsigned int enabled : 1;
	unsigned int pinned : 1;
	u32 region_mask;
};

static void side_pcim_release(struct device *gendev, void *res)
{
	struct pci_dev *dev = to_pci_dev(gendev);
	struct side_pci_devres *dr = res;
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (dr->region_mask & BIT(i))
			pci_release_region(dev, i);
	if (dr->enabled && !dr->pinned)
		pci_disable_device(dev);
}

static struct side_pci_devres *side_get_pci_dr(struct pci_dev *pdev)
{
	struct side_pci_devres *dr, *new_dr;

	dr = devres_find(&pdev->dev, side_pcim_release, NULL, NULL);
	if (dr)
		return dr;
	new_dr = devres_alloc(side_pcim_release, sizeof(*new_dr), GFP_KERNEL);
	if (!new_dr)
		return NULL;
	return devres_get(&pdev->dev, new_dr, NULL, NULL);
}

int pcim_enable_device(struct pci_dev *pdev)
{
	struct side_pci_devres *dr = side_get_pci_dr(pdev);
	int rc;

	if (!dr)
		return -ENOMEM;
	if (dr->enabled)
		return 0;
	rc = pci_enable_device(pdev);
	if (!rc) {
		pdev->is_managed = 1;
		dr->enabled = 1;
	}
	return rc;
}

void pcim_pin_device(struct pci_dev *pdev)
{
	struct side_pci_devres *dr = pci_is_managed(pdev) ?
		devres_find(&pdev->dev, side_pcim_release, NULL, NULL) : NULL;

	WARN_ON(!dr || !dr->enabled);
	if (dr)
		dr->pinned = 1;
}

/* pci.c: a managed device's region was requested (or released), so that devres releases what is left. */
void side_pcim_note_region(struct pci_dev *pdev, int bar, bool requested)
{
	struct side_pci_devres *dr;

	if (!pci_is_managed(pdev))
		return;
	dr = devres_find(&pdev->dev, side_pcim_release, NULL, NULL);
	if (!dr)
		return;
	if (requested)
		dr->region_mask |= BIT(bar);
	else
		dr->region_mask &= ~BIT(bar);
}

/* ---- the table of managed BAR mappings */

struct side_pcim_iomap {
	void __iomem *table[PCI_STD_NUM_BARS];
};

static void side_pcim_iomap_release(struct device *gendev, void *res)
{
	struct pci_dev *dev = to_pci_dev(gendev);
	struct side_pcim_iomap *this = res;
	int i;

	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (this->table[i])
			pci_iounmap(dev, this->table[i]);
}

void __iomem *const *pcim_iomap_table(struct pci_dev *pdev)
{
	struct side_pcim_iomap *dr, *new_dr;

	dr = devres_find(&pdev->dev, side_pcim_iomap_release, NULL, NULL);
	if (dr)
		return dr->table;
	new_dr = devres_alloc(side_pcim_iomap_release, sizeof(*new_dr), GFP_KERNEL);
	if (!new_dr)
		return NULL;
	dr = devres_get(&pdev->dev, new_dr, NULL, NULL);
	return dr->table;
}

void __iomem *pcim_iomap(struct pci_dev *pdev, int bar, unsigned long maxlen)
{
	void __iomem **tbl;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return NULL;
	tbl = (void __iomem **)pcim_iomap_table(pdev);
	if (!tbl || tbl[bar]) /* a second mapping of a BAR is refused */
		return NULL;
	tbl[bar] = pci_iomap(pdev, bar, maxlen);
	return tbl[bar];
}

void pcim_iounmap(struct pci_dev *pdev, void __iomem *addr)
{
	void __iomem **tbl = (void __iomem **)pcim_iomap_table(pdev);
	int i;

	pci_iounmap(pdev, addr);
	for (i = 0; tbl && i < PCI_STD_NUM_BARS; i++) {
		if (tbl[i] == addr) {
			tbl[i] = NULL;
			return;
		}
	}
	WARN_ON(1);
}
