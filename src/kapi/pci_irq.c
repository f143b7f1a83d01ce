// SPDX-License-Identifier: GPL-2.0-only
/*
 * A PCI function's interrupt vectors by number (drivers/pci/irq.c): pci_request_irq() requests vector `nr` of the
 * function, shared, with a name formatted for it (which the line keeps until pci_free_irq() frees both).
 */
#include <linux/interrupt.h>
#include <linux/pci.h>
#include <linux/slab.h>

#include "kapi.h"

int pci_request_irq(struct pci_dev *dev, unsigned int nr, irq_handler_t handler, irq_handler_t thread_fn,
		    void *dev_id, const char *fmt, ...)
{
	unsigned long irqflags = IRQF_SHARED;
	char *devname;
	va_list ap;
	int ret;

	if (!handler)
		irqflags |= IRQF_ONESHOT;
	va_start(ap, fmt);
	devname = kvasprintf(GFP_KERNEL, fmt, ap);
	va_end(ap);
	if (!devname)
		return -ENOMEM;
	ret = request_threaded_irq(pci_irq_vector(dev, nr), handler, thread_fn, irqflags, devname, dev_id);
	if (ret)
		kfree(devname);
	return ret;
}

void pci_free_irq(struct pci_dev *dev, unsigned int nr, void *dev_id)
{
	kfree(free_irq(pci_irq_vector(dev, nr), dev_id));
}
