// SPDX-License-Identifier: GPL-2.0-only
/*
 * A PCI driver for the emulated 82540EM that exercises the device services from its probe: enabling, bus
 * mastering, regions, config space, BAR mapping, DMA (coherent, streaming, beyond the mask) and the interrupt line
 * (delivery, disable/enable with replay, free_irq). `fault` selects a deliberate driver bug after the checks:
 * 1 frees an irq never requested, 2 unmaps a DMA address never mapped.
 */
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>

static int fault;
module_param(fault, int, 0);

#define E1000_STATUS 0x0008
#define E1000_ICR 0x00c0
#define E1000_ICS 0x00c8
#define E1000_IMS 0x00d0
#define E1000_IMC 0x00d8
#define CAUSE_LSC 0x4

#define CHECK(cond)                                                                                      \
	do {                                                                                             \
		if (!(cond)) {                                                                           \
			pr_err("side_test_pcidev: check failed: %s (line %d)\n", #cond, __LINE__);       \
			err = -EIO;                                                                      \
			goto out;                                                                        \
		}                                                                                        \
	} while (0)

#define WAIT_FOR(cond)                                                \
	do {                                                          \
		int __n;                                              \
		for (__n = 0; __n < 2000 && !(cond); __n++)           \
			msleep(1);                                    \
	} while (0)

static void __iomem *hw;
static int irq_count, irq_hardirq, irq_cpu = -1;
static u32 last_icr;

static irqreturn_t test_intr(int irq, void *data)
{
	u32 icr = readl(hw + E1000_ICR);

	if (!icr)
		return IRQ_NONE;
	last_icr = icr;
	irq_hardirq = in_hardirq() && irqs_disabled();
	irq_cpu = smp_processor_id();
	WRITE_ONCE(irq_count, irq_count + 1);
	return IRQ_HANDLED;
}

static int test_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	int bars = pci_select_bars(pdev, IORESOURCE_MEM), err = 0, requested = 0, irq_requested = 0;
	dma_addr_t ring_dma = 0, buf_dma, small;
	void *ring = NULL, *buf = NULL;
	const void *name;
	u16 cmd = 0;
	u32 dw = 0;

	pr_info("side_test_pcidev: probing %s irq %u bars %#x\n", pci_name(pdev), pdev->irq, bars);
	CHECK(!strcmp(dev_name(&pdev->dev), "0000:00:03.0") || dev_name(&pdev->dev)[4] == ':');
	CHECK(pci_match_id(ent, pdev) == ent);
	CHECK(bars & 1);
	CHECK(pci_enable_device_mem(pdev) == 0);
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	CHECK(cmd & PCI_COMMAND_MEMORY);
	CHECK(pci_request_selected_regions(pdev, bars, "side_test_pcidev") == 0);
	requested = 1;
	CHECK(pci_request_selected_regions(pdev, bars, "again") == -EBUSY);
	pci_set_master(pdev);
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	CHECK(cmd & PCI_COMMAND_MASTER);
	CHECK(pci_read_config_dword(pdev, PCI_VENDOR_ID, &dw) == 0 && dw == (pdev->vendor | pdev->device << 16));
	CHECK(pci_read_config_word(pdev, 1, &cmd) == PCIBIOS_BAD_REGISTER_NUMBER);
	CHECK(pci_save_state(pdev) == 0 && pdev->saved_config_space[0] == dw);
	CHECK(pcix_get_mmrbc(pdev) == -EINVAL);
	CHECK(pci_set_power_state(pdev, PCI_D0) == 0);

	hw = pci_ioremap_bar(pdev, 0);
	CHECK(hw);
	dw = readl(hw + E1000_STATUS);
	CHECK(ioread32(hw + E1000_STATUS) == dw);
	pr_info("side_test_pcidev: STATUS %08x\n", dw);

	/* DMA. */
	CHECK(dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32)) == 0);
	CHECK(dma_set_mask(&pdev->dev, DMA_BIT_MASK(16)) == -EIO);
	ring = dma_alloc_coherent(&pdev->dev, 4096, &ring_dma, GFP_KERNEL);
	CHECK(ring && ring_dma == virt_to_phys(ring));
	CHECK(((u8 *)ring)[100] == 0);
	buf = kmalloc(2048, GFP_KERNEL);
	CHECK(buf);
	buf_dma = dma_map_single(&pdev->dev, buf, 2048, DMA_FROM_DEVICE);
	CHECK(!dma_mapping_error(&pdev->dev, buf_dma) && buf_dma == virt_to_phys(buf));
	dma_sync_single_for_cpu(&pdev->dev, buf_dma, 2048, DMA_FROM_DEVICE);
	dma_unmap_single(&pdev->dev, buf_dma, 2048, DMA_FROM_DEVICE);
	/* A mask below the buffer: no bounce buffers, the mapping fails. */
	CHECK(dma_set_mask(&pdev->dev, DMA_BIT_MASK(24)) == 0);
	if (virt_to_phys(buf) + 2048 > DMA_BIT_MASK(24)) {
		small = dma_map_single(&pdev->dev, buf, 2048, DMA_TO_DEVICE);
		CHECK(dma_mapping_error(&pdev->dev, small));
		pr_info("side_test_pcidev: map beyond mask refused\n");
	}
	CHECK(dma_set_mask(&pdev->dev, DMA_BIT_MASK(32)) == 0);

	/* The interrupt line. */
	writel(~0U, hw + E1000_IMC);
	readl(hw + E1000_ICR);
	synchronize_irq(pdev->irq); /* before request_irq: nothing to wait for */
	CHECK(request_irq(pdev->irq, test_intr, IRQF_SHARED, "side_test_pcidev", pdev) == 0);
	irq_requested = 1;
	CHECK(request_irq(pdev->irq, test_intr, 0, "exclusive", hw) == -EBUSY);
	writel(CAUSE_LSC, hw + E1000_IMS);
	writel(CAUSE_LSC, hw + E1000_ICS);
	WAIT_FOR(READ_ONCE(irq_count) >= 1);
	CHECK(irq_count == 1 && (last_icr & CAUSE_LSC));
	CHECK(irq_hardirq && irq_cpu == 1);

	disable_irq(pdev->irq);
	writel(CAUSE_LSC, hw + E1000_ICS);
	msleep(50);
	CHECK(irq_count == 1);
	enable_irq(pdev->irq);
	WAIT_FOR(READ_ONCE(irq_count) >= 2);
	CHECK(irq_count == 2);
	pr_info("side_test_pcidev: irq delivered, held while disabled, replayed on enable\n");

	CHECK(disable_hardirq(pdev->irq));
	enable_irq(pdev->irq);
	writel(~0U, hw + E1000_IMC);
	name = free_irq(pdev->irq, pdev);
	irq_requested = 0;
	CHECK(name && !strcmp(name, "side_test_pcidev"));

	if (fault == 1)
		free_irq(pdev->irq, pdev);
	if (fault == 2)
		dma_unmap_single(&pdev->dev, buf_dma, 2048, DMA_FROM_DEVICE);

	pr_info("side_test_pcidev: ok\n");
out:
	if (irq_requested)
		free_irq(pdev->irq, pdev);
	kfree(buf);
	if (ring)
		dma_free_coherent(&pdev->dev, 4096, ring, ring_dma);
	if (hw)
		iounmap(hw);
	if (requested)
		pci_release_selected_regions(pdev, bars);
	pci_disable_device(pdev);
	return err;
}

static void test_remove(struct pci_dev *pdev)
{
}

static const struct pci_device_id test_ids[] = {
	{ PCI_DEVICE(0x8086, 0x100e) },
	{}
};

static struct pci_driver test_driver = {
	.name = "side_test_pcidev",
	.id_table = test_ids,
	.probe = test_probe,
	.remove = test_remove,
};

module_pci_driver(test_driver);
MODULE_LICENSE("GPL");
