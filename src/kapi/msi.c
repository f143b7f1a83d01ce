// SPDX-License-Identifier: GPL-2.0-only
/*
 * Message-signalled interrupts. side's platform delivers a device's interrupts on its legacy line only (the host
 * routes INTx; there is no MSI address window nor interrupt remapping in a domain), which is the kernel booted with
 * pci=nomsi: pci_msi_enabled() is false and every request for MSI or MSI-X vectors fails with -EINVAL, so drivers
 * take their INTx path. pci_alloc_irq_vectors() still grants the one legacy vector when the caller allows it.
 */
#include <linux/pci.h>

#include "kapi.h"

int pci_msi_enabled(void)
{
	return 0;
}

int pci_enable_msi(struct pci_dev *dev)
{
	return -EINVAL;
}

int pci_enable_msix_range(struct pci_dev *dev, struct msix_entry *entries, int minvec, int maxvec)
{
	return -EINVAL;
}

/* Nothing to undo: MSI was never enabled (the kernel returns early the same way). */
void pci_disable_msi(struct pci_dev *dev)
{
	WARN_ON_ONCE(dev && dev->msi_enabled);
}

void pci_disable_msix(struct pci_dev *dev)
{
	WARN_ON_ONCE(dev && dev->msix_enabled);
}

int pci_alloc_irq_vectors_affinity(struct pci_dev *dev, unsigned int min_vecs, unsigned int max_vecs,
				   unsigned int flags, struct irq_affinity *affd)
{
	/* MSI-X and MSI fail as above; the legacy line is one vector, and only for a caller that accepts it. */
	if ((flags & PCI_IRQ_LEGACY) && min_vecs == 1 && dev->irq)
		return 1;
	return -ENOSPC;
}

void pci_free_irq_vectors(struct pci_dev *dev)
{
	pci_disable_msix(dev);
	pci_disable_msi(dev);
}

int pci_irq_vector(struct pci_dev *dev, unsigned int nr)
{
	/* Without MSI, vector 0 is the legacy line and there is no other. */
	if (WARN_ON_ONCE(nr > 0))
		return -EINVAL;
	return dev->irq;
}

const struct cpumask *pci_irq_get_affinity(struct pci_dev *dev, int nr)
{
	if (WARN_ON_ONCE(pci_irq_vector(dev, nr) <= 0))
		return NULL;
	return cpu_possible_mask; /* a legacy line has no affinity of its own */
}
