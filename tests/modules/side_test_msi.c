// SPDX-License-Identifier: GPL-2.0-only
/*
 * A PCI driver for the MSI test function (tests/unit/kapi/msi_test_device.h) that checks, from its probe, the
 * kernel's MSI and MSI-X interface: the vector counts, pci_alloc_irq_vectors() in each mode with its fallbacks,
 * pci_irq_vector(), an MSI-X vector that stays masked (its interrupt held pending by the device) until request_irq()
 * starts it, MSI with dev->irq, the legacy line, and the errors Linux gives (-ERANGE, -EINVAL, -ENOSPC).
 * Writing N to BAR0 + 0 makes the function raise vector N.
 */
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>

#define CHECK(cond)                                                                                      \
	do {                                                                                             \
		if (!(cond)) {                                                                           \
			pr_err("side_test_msi: check failed: %s (line %d)\n", #cond, __LINE__);          \
			err = -EIO;                                                                      \
			goto out;                                                                        \
		}                                                                                        \
	} while (0)

#define WAIT_FOR(cond)                                      \
	do {                                                \
		int __n;                                    \
		for (__n = 0; __n < 2000 && !(cond); __n++) \
			msleep(1);                          \
	} while (0)

static void __iomem *hw;
static int hits[4];

static irqreturn_t test_vector(int irq, void *data)
{
	long v = (long)data;

	WRITE_ONCE(hits[v], hits[v] + 1);
	return IRQ_HANDLED;
}

static void ring(int vector)
{
	writel(vector, hw);
}

/* MSI-X: three vectors of four, each its own line; vector 1 masked until requested; nothing left after freeing. */
static int test_msix(struct pci_dev *pdev, int legacy)
{
	struct msix_entry dup[2] = { { .entry = 1 }, { .entry = 1 } };
	int err = 0, n, i, irq[3];

	n = pci_alloc_irq_vectors(pdev, 2, 3, PCI_IRQ_MSIX);
	CHECK(n == 3 && pdev->msix_enabled && !pdev->msi_enabled);
	for (i = 0; i < 3; i++) {
		irq[i] = pci_irq_vector(pdev, i);
		CHECK(irq[i] >= 32 && irq[i] != legacy && (i == 0 || irq[i] != irq[i - 1]));
	}
	CHECK(pci_irq_vector(pdev, 3) == -EINVAL);
	CHECK(pci_enable_msi(pdev) == -EINVAL);
	CHECK(pci_enable_msix_range(pdev, dup, 1, 2) == -EINVAL);
	CHECK(!request_irq(irq[0], test_vector, 0, "msix0", (void *)0L));
	CHECK(!request_irq(irq[2], test_vector, 0, "msix2", (void *)2L));
	ring(0);
	ring(2);
	WAIT_FOR(READ_ONCE(hits[0]) && READ_ONCE(hits[2]));
	CHECK(hits[0] == 1 && hits[2] == 1);
	ring(1);
	msleep(20);
	CHECK(hits[1] == 0);
	CHECK(!request_irq(irq[1], test_vector, 0, "msix1", (void *)1L));
	WAIT_FOR(READ_ONCE(hits[1]));
	CHECK(hits[1] == 1);
	pr_info("side_test_msix: ok vectors %d %d %d, masked until requested\n", irq[0], irq[1], irq[2]);
	for (i = 0; i < 3; i++)
		free_irq(irq[i], (void *)(long)i);
	pci_free_irq_vectors(pdev);
	CHECK(!pdev->msix_enabled && pdev->irq == legacy && pci_irq_vector(pdev, 0) == legacy);
out:
	return err;
}

static int test_msi(struct pci_dev *pdev, int legacy)
{
	int err = 0;

	CHECK(pci_alloc_irq_vectors(pdev, 2, 2, PCI_IRQ_MSI) == -ENOSPC);
	CHECK(!pci_enable_msi(pdev) && pdev->msi_enabled && pdev->irq >= 32);
	CHECK(pci_irq_vector(pdev, 0) == pdev->irq && pci_irq_vector(pdev, 1) == -EINVAL);
	CHECK(pci_enable_msix_range(pdev, NULL, 1, 1) == -EINVAL);
	CHECK(!request_irq(pdev->irq, test_vector, 0, "msi", (void *)3L));
	ring(0);
	WAIT_FOR(READ_ONCE(hits[3]));
	CHECK(hits[3] == 1);
	pr_info("side_test_msi: ok msi irq %d\n", pdev->irq);
	free_irq(pdev->irq, (void *)3L);
	pci_disable_msi(pdev);
	CHECK(!pdev->msi_enabled && pdev->irq == legacy);
out:
	return err;
}

static int test_legacy(struct pci_dev *pdev, int legacy)
{
	int err = 0;

	/* Four of four MSI-X vectors; MSI is not tried. */
	CHECK(pci_alloc_irq_vectors(pdev, 1, 8, PCI_IRQ_MSIX | PCI_IRQ_MSI) == 4 && pdev->msix_enabled);
	pci_free_irq_vectors(pdev);
	/* MSI-X refused (more than the table), MSI refused (one vector), and no legacy allowed. */
	CHECK(pci_alloc_irq_vectors(pdev, 5, 8, PCI_IRQ_MSIX | PCI_IRQ_MSI) == -ENOSPC);
	CHECK(pci_alloc_irq_vectors(pdev, 2, 1, PCI_IRQ_MSIX) == -ERANGE);
	CHECK(pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_LEGACY) == 1 && pci_irq_vector(pdev, 0) == legacy);
	CHECK(!request_irq(legacy, test_vector, 0, "intx", (void *)0L));
	hits[0] = 0;
	ring(0);
	WAIT_FOR(READ_ONCE(hits[0]));
	CHECK(hits[0] == 1);
	free_irq(legacy, (void *)0L);
	pr_info("side_test_msi: ok legacy irq %d\n", legacy);
out:
	return err;
}

/* Affinity spreading: the reserved vectors plus one per possible CPU at most. The pre vector gets every CPU;
 * the others split the CPUs between them, each CPU in exactly one (irq_create_affinity_masks). */
static int test_affinity(struct pci_dev *pdev)
{
	struct irq_affinity affd = { .pre_vectors = 1 };
	int err = 0, want = min_t(int, 4, 1 + num_possible_cpus()), i, cpu, owners;

	CHECK(pci_alloc_irq_vectors_affinity(pdev, 2, 4, PCI_IRQ_MSIX | PCI_IRQ_AFFINITY, &affd) == want);
	CHECK(affd.nr_sets == 1 && affd.set_size[0] == want - 1);
	for (i = 0; i < want; i++)
		CHECK(pci_irq_get_affinity(pdev, i) != NULL);
	for_each_possible_cpu(cpu) {
		CHECK(cpumask_test_cpu(cpu, pci_irq_get_affinity(pdev, 0)));
		for (owners = 0, i = 1; i < want; i++)
			owners += cpumask_test_cpu(cpu, pci_irq_get_affinity(pdev, i));
		CHECK(owners == 1); /* want - 1 vectors, never more than the CPUs */
	}
	pci_free_irq_vectors(pdev);
	CHECK(pci_irq_get_affinity(pdev, 0) == cpu_possible_mask);
	pr_info("side_test_msi: ok affinity %d vectors\n", want);
out:
	return err;
}

static int test_probe(struct pci_dev *pdev, const struct pci_device_id *ent)
{
	int legacy = pdev->irq, err;

	err = pci_enable_device(pdev);
	if (err)
		return err;
	hw = pci_iomap(pdev, 0, 0);
	if (!hw) {
		pci_disable_device(pdev);
		return -ENOMEM;
	}
	pr_info("side_test_msi: msix %d msi %d vectors\n", pci_msix_vec_count(pdev), pci_msi_vec_count(pdev));
	err = test_msix(pdev, legacy);
	if (!err)
		err = test_msi(pdev, legacy);
	if (!err)
		err = test_affinity(pdev);
	if (!err)
		err = test_legacy(pdev, legacy);
	if (!err)
		pr_info("side_test_msi: all ok\n");
	pci_iounmap(pdev, hw);
	pci_disable_device(pdev);
	return err;
}

static void test_remove(struct pci_dev *pdev)
{
}

static const struct pci_device_id test_ids[] = {
	{ PCI_DEVICE(0x5344, 0x4d53) },
	{}
};
MODULE_DEVICE_TABLE(pci, test_ids);

static struct pci_driver test_driver = {
	.name = "side_test_msi",
	.id_table = test_ids,
	.probe = test_probe,
	.remove = test_remove,
};
module_pci_driver(test_driver);
MODULE_LICENSE("GPL");
