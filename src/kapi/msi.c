// SPDX-License-Identifier: GPL-2.0-only
/*
 * Message-signalled interrupts, with the semantics of Linux 6.1's drivers/pci/msi/: MSI (one block of 1..32
 * vectors, from the capability's Multiple Message Capable field) and MSI-X (a table of 1..2048 entries in a memory
 * BAR), each exclusive of the other, INTx disabled while either is on, and pci_alloc_irq_vectors() trying MSI-X,
 * then MSI, then the legacy line, as its flags allow.
 *
 * side's platform: a message is address SIDE_MSI_ADDRESS, data = a domain interrupt line allocated here from
 * [SIDE_MSI_FIRST_IRQ, SIDE_NR_IRQ_LINES) (side_host.h); the supervisor validates the line when the device sends it.
 * As in the kernel, the layer (never the driver) programs the capability and the MSI-X table, through the device's
 * config space and its BAR. An MSI-X entry stays masked until its interrupt is started (request_irq) and is masked
 * again when the interrupt is shut down (the last free_irq), as the MSI irqchip does.
 */
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/log2.h>
#include <linux/pci.h>

#include "kapi.h"

#define SIDE_MSI_LINES (SIDE_NR_IRQ_LINES - SIDE_MSI_FIRST_IRQ)

/* One allocated line: which device owns it, which of its vectors it is, and where its MSI-X entry is. */
struct side_msi_vec {
	struct pci_dev *dev;   /* NULL: free */
	void __iomem *entry;   /* MSI-X table entry; NULL for MSI */
	unsigned int nr;       /* vector number, as pci_irq_vector() counts */
	unsigned int def_irq;  /* MSI: the device's legacy irq, restored on disable */
	bool has_affinity;     /* allocated with an irq_affinity (PCI_IRQ_AFFINITY): `affinity` is its mask */
	struct cpumask affinity;
};

static DEFINE_SPINLOCK(side_msi_lock);
static struct side_msi_vec side_msi_vecs[SIDE_MSI_LINES];

int pci_msi_enabled(void)
{
	return 1;
}

/* Finds `n` free consecutive lines (aligned to `align`, a power of two) and gives them to `dev`; the first line's
 * number or -ENOSPC. */
static int side_msi_alloc_lines(struct pci_dev *dev, unsigned int n, unsigned int align)
{
	unsigned long flags;
	unsigned int first, i;
	int irq = -ENOSPC;

	spin_lock_irqsave(&side_msi_lock, flags);
	for (first = 0; first + n <= SIDE_MSI_LINES && irq < 0; first += align) {
		for (i = 0; i < n && !side_msi_vecs[first + i].dev; i++)
			;
		if (i < n)
			continue;
		for (i = 0; i < n; i++)
			side_msi_vecs[first + i] = (struct side_msi_vec){ .dev = dev, .nr = i, .def_irq = dev->irq };
		irq = SIDE_MSI_FIRST_IRQ + first;
	}
	spin_unlock_irqrestore(&side_msi_lock, flags);
	return irq;
}

static struct side_msi_vec *side_msi_vec_of(unsigned int irq)
{
	if (irq < SIDE_MSI_FIRST_IRQ || irq >= SIDE_NR_IRQ_LINES)
		return NULL;
	return &side_msi_vecs[irq - SIDE_MSI_FIRST_IRQ];
}

/* Every line of `dev` goes back. One still requested is the driver's bug (the kernel's free_msi_irqs() BUG()s on
 * it in older releases); the handler is left attached to a line that no longer fires. */
static void side_msi_free_lines(struct pci_dev *dev)
{
	unsigned long flags;
	unsigned int i;

	for (i = 0; i < SIDE_MSI_LINES; i++) {
		if (side_msi_vecs[i].dev == dev)
			WARN(side_irq_has_action(SIDE_MSI_FIRST_IRQ + i), "%s: freeing MSI vector %u with its irq %u still requested\n",
			     pci_name(dev), side_msi_vecs[i].nr, SIDE_MSI_FIRST_IRQ + i);
	}
	spin_lock_irqsave(&side_msi_lock, flags);
	for (i = 0; i < SIDE_MSI_LINES; i++) {
		if (side_msi_vecs[i].dev == dev)
			side_msi_vecs[i] = (struct side_msi_vec){};
	}
	spin_unlock_irqrestore(&side_msi_lock, flags);
}

/* COMMAND's INTx Disable, as pci_intx(): the legacy line is off while messages are on. */
static void side_msi_intx(struct pci_dev *dev, bool enable)
{
	u16 cmd, want;

	pci_read_config_word(dev, PCI_COMMAND, &cmd);
	want = enable ? cmd & ~PCI_COMMAND_INTX_DISABLE : cmd | PCI_COMMAND_INTX_DISABLE;
	if (want != cmd)
		pci_write_config_word(dev, PCI_COMMAND, want);
}

/* Called by request_irq()/free_irq() when a line gets its first handler or loses its last (irq_startup() and
 * irq_shutdown() of the MSI irqchip): an MSI-X entry is unmasked only while its interrupt is wanted. */
void side_msi_irq_startup(unsigned int irq, bool start)
{
	struct side_msi_vec *v = side_msi_vec_of(irq);

	if (v && v->dev && v->entry)
		iowrite32(start ? 0 : PCI_MSIX_ENTRY_CTRL_MASKBIT, v->entry + PCI_MSIX_ENTRY_VECTOR_CTRL);
}

/* At probe, as pci_msi_init()/pci_msix_init(): find the capabilities, and leave both off (firmware or an earlier
 * driver may have left them on). */
void side_msi_init(struct pci_dev *dev)
{
	u16 ctrl;

	dev->msi_cap = pci_find_capability(dev, PCI_CAP_ID_MSI);
	dev->msix_cap = pci_find_capability(dev, PCI_CAP_ID_MSIX);
	if (dev->msi_cap) {
		pci_read_config_word(dev, dev->msi_cap + PCI_MSI_FLAGS, &ctrl);
		if (ctrl & PCI_MSI_FLAGS_ENABLE)
			pci_write_config_word(dev, dev->msi_cap + PCI_MSI_FLAGS, ctrl & ~PCI_MSI_FLAGS_ENABLE);
	}
	if (dev->msix_cap) {
		pci_read_config_word(dev, dev->msix_cap + PCI_MSIX_FLAGS, &ctrl);
		if (ctrl & PCI_MSIX_FLAGS_ENABLE)
			pci_write_config_word(dev, dev->msix_cap + PCI_MSIX_FLAGS, ctrl & ~PCI_MSIX_FLAGS_ENABLE);
	}
}

/* At remove: what the driver left enabled goes, so nothing of the device outlives it. */
void side_msi_release(struct pci_dev *dev)
{
	pci_disable_msix(dev);
	pci_disable_msi(dev);
}

/* ---- MSI */

int pci_msi_vec_count(struct pci_dev *dev)
{
	u16 ctrl;

	if (!dev->msi_cap)
		return -EINVAL;
	pci_read_config_word(dev, dev->msi_cap + PCI_MSI_FLAGS, &ctrl);
	return 1 << ((ctrl & PCI_MSI_FLAGS_QMASK) >> 1);
}

static bool side_msi_supported(struct pci_dev *dev, int nvec)
{
	return dev && !dev->no_msi && nvec >= 1 && dev->current_state == PCI_D0;
}

/* msi_capability_init(): the block's lines, the message, masks, then the enable bit with the vector count. */
static int side_msi_setup(struct pci_dev *dev, int nvec)
{
	unsigned int block = roundup_pow_of_two(nvec), i;
	int pos = dev->msi_cap, irq;
	bool is64;
	u16 ctrl;

	irq = side_msi_alloc_lines(dev, block, block);
	if (irq < 0)
		return irq;
	/* The block's lines past nvec are reserved (the device may use them) but are no vector of the driver's. */
	for (i = nvec; i < block; i++)
		side_msi_vec_of(irq + i)->nr = UINT_MAX;
	pci_read_config_word(dev, pos + PCI_MSI_FLAGS, &ctrl);
	is64 = ctrl & PCI_MSI_FLAGS_64BIT;
	pci_write_config_dword(dev, pos + PCI_MSI_ADDRESS_LO, SIDE_MSI_ADDRESS);
	if (is64)
		pci_write_config_dword(dev, pos + PCI_MSI_ADDRESS_HI, 0);
	pci_write_config_word(dev, pos + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32), irq);
	/* The kernel unmasks the vectors it uses and masks the rest of a maskable block. */
	if (ctrl & PCI_MSI_FLAGS_MASKBIT)
		pci_write_config_dword(dev, pos + (is64 ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32),
				       (u32)(~0ULL << nvec));
	side_msi_intx(dev, false);
	ctrl = (ctrl & ~PCI_MSI_FLAGS_QSIZE) | (ilog2(block) << 4) | PCI_MSI_FLAGS_ENABLE;
	pci_write_config_word(dev, pos + PCI_MSI_FLAGS, ctrl);
	dev->msi_enabled = 1;
	dev->irq = irq;
	return 0;
}

static int side_enable_msi_range(struct pci_dev *dev, int minvec, int maxvec)
{
	int nvec;

	if (maxvec < minvec)
		return -ERANGE;
	if (WARN_ON_ONCE(dev->msi_enabled))
		return -EINVAL;
	if (dev->msix_enabled) {
		pci_info(dev, "can't enable MSI (MSI-X already enabled)\n");
		return -EINVAL;
	}
	if (!side_msi_supported(dev, minvec) || !dev->msi_cap)
		return -EINVAL;
	nvec = pci_msi_vec_count(dev);
	if (nvec < 0)
		return nvec;
	if (nvec < minvec)
		return -ENOSPC;
	nvec = min(nvec, maxvec);
	for (; nvec >= minvec; nvec--) {
		if (!side_msi_setup(dev, nvec))
			return nvec;
	}
	return -ENOSPC;
}

int pci_enable_msi(struct pci_dev *dev)
{
	int rc = side_enable_msi_range(dev, 1, 1);

	return rc < 0 ? rc : 0;
}

void pci_disable_msi(struct pci_dev *dev)
{
	struct side_msi_vec *v;
	u16 ctrl;

	if (!dev || !dev->msi_enabled)
		return;
	v = side_msi_vec_of(dev->irq);
	pci_read_config_word(dev, dev->msi_cap + PCI_MSI_FLAGS, &ctrl);
	pci_write_config_word(dev, dev->msi_cap + PCI_MSI_FLAGS, ctrl & ~PCI_MSI_FLAGS_ENABLE);
	side_msi_intx(dev, true);
	dev->msi_enabled = 0;
	if (v && v->dev == dev)
		dev->irq = v->def_irq;
	side_msi_free_lines(dev);
}

/* ---- MSI-X */

int pci_msix_vec_count(struct pci_dev *dev)
{
	u16 ctrl;

	if (!dev->msix_cap)
		return -EINVAL;
	pci_read_config_word(dev, dev->msix_cap + PCI_MSIX_FLAGS, &ctrl);
	return (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
}

static void side_msix_ctrl(struct pci_dev *dev, u16 clear, u16 set)
{
	u16 ctrl;

	pci_read_config_word(dev, dev->msix_cap + PCI_MSIX_FLAGS, &ctrl);
	pci_write_config_word(dev, dev->msix_cap + PCI_MSIX_FLAGS, (ctrl & ~clear) | set);
}

/* msix_map_region(): the table's BAR and offset from the capability; NULL when it is not inside a memory BAR. */
static void __iomem *side_msix_map(struct pci_dev *dev, unsigned int hwsize)
{
	u32 table;
	unsigned int bir;
	resource_size_t off;

	pci_read_config_dword(dev, dev->msix_cap + PCI_MSIX_TABLE, &table);
	bir = table & PCI_MSIX_TABLE_BIR;
	off = table & PCI_MSIX_TABLE_OFFSET;
	if (bir >= PCI_STD_NUM_BARS || !(pci_resource_flags(dev, bir) & IORESOURCE_MEM) ||
	    off + hwsize * PCI_MSIX_ENTRY_SIZE > pci_resource_len(dev, bir))
		return NULL;
	return ioremap(pci_resource_start(dev, bir) + off, hwsize * PCI_MSIX_ENTRY_SIZE);
}

static void side_msix_mask_all(void __iomem *base, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		iowrite32(PCI_MSIX_ENTRY_CTRL_MASKBIT, base + i * PCI_MSIX_ENTRY_SIZE + PCI_MSIX_ENTRY_VECTOR_CTRL);
}

/* msix_capability_init(): enabled with every vector masked (function mask) while the table is written, then the
 * function mask dropped; each entry stays masked until its interrupt starts. */
static int side_msix_setup(struct pci_dev *dev, struct msix_entry *entries, int nvec, unsigned int hwsize)
{
	void __iomem *base;
	int irq, i;

	side_msix_ctrl(dev, 0, PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE);
	base = side_msix_map(dev, hwsize);
	irq = base ? side_msi_alloc_lines(dev, nvec, 1) : -ENOMEM;
	if (irq < 0) {
		if (base)
			iounmap(base);
		side_msix_ctrl(dev, PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE, 0);
		return irq;
	}
	side_msix_mask_all(base, hwsize);
	for (i = 0; i < nvec; i++) {
		unsigned int idx = entries ? entries[i].entry : i;
		void __iomem *e = base + idx * PCI_MSIX_ENTRY_SIZE;

		iowrite32(SIDE_MSI_ADDRESS, e + PCI_MSIX_ENTRY_LOWER_ADDR);
		iowrite32(0, e + PCI_MSIX_ENTRY_UPPER_ADDR);
		iowrite32(irq + i, e + PCI_MSIX_ENTRY_DATA);
		side_msi_vec_of(irq + i)->entry = e;
		if (entries)
			entries[i].vector = irq + i;
	}
	dev->msix_base = base;
	dev->msix_enabled = 1;
	side_msi_intx(dev, false);
	side_msix_ctrl(dev, PCI_MSIX_FLAGS_MASKALL, 0);
	return 0;
}

/* pci_msix_validate_entries(): each entry inside the table, none twice. */
static bool side_msix_entries_ok(struct msix_entry *entries, int nvec, int hwsize)
{
	int i, j;

	for (i = 0; entries && i < nvec; i++) {
		if (entries[i].entry >= hwsize)
			return false;
		for (j = i + 1; j < nvec; j++)
			if (entries[i].entry == entries[j].entry)
				return false;
	}
	return true;
}

static int side_enable_msix_range(struct pci_dev *dev, struct msix_entry *entries, int minvec, int maxvec)
{
	int hwsize, nvec;

	if (maxvec < minvec)
		return -ERANGE;
	if (WARN_ON_ONCE(dev->msix_enabled))
		return -EINVAL;
	if (dev->msi_enabled) {
		pci_info(dev, "can't enable MSI-X (MSI already enabled)\n");
		return -EINVAL;
	}
	if (!side_msi_supported(dev, minvec) || !dev->msix_cap)
		return -EINVAL;
	hwsize = pci_msix_vec_count(dev);
	if (!side_msix_entries_ok(entries, maxvec, hwsize))
		return -EINVAL;
	nvec = min(maxvec, hwsize);
	if (nvec < minvec)
		return -ENOSPC;
	/* Fewer free lines than asked: retry with fewer, down to minvec, as the kernel does when a domain is short. */
	for (; nvec >= minvec; nvec--) {
		int rc = side_msix_setup(dev, entries, nvec, hwsize);

		if (!rc)
			return nvec;
		if (rc != -ENOSPC)
			return rc;
	}
	return -ENOSPC;
}

int pci_enable_msix_range(struct pci_dev *dev, struct msix_entry *entries, int minvec, int maxvec)
{
	return side_enable_msix_range(dev, entries, minvec, maxvec);
}

void pci_disable_msix(struct pci_dev *dev)
{
	unsigned int hwsize;

	if (!dev || !dev->msix_enabled)
		return;
	hwsize = pci_msix_vec_count(dev);
	side_msix_ctrl(dev, 0, PCI_MSIX_FLAGS_MASKALL);
	side_msix_mask_all(dev->msix_base, hwsize);
	side_msix_ctrl(dev, PCI_MSIX_FLAGS_MASKALL | PCI_MSIX_FLAGS_ENABLE, 0);
	side_msi_intx(dev, true);
	dev->msix_enabled = 0;
	side_msi_free_lines(dev);
	iounmap(dev->msix_base);
	dev->msix_base = NULL;
}

/* ---- the generic interface */

/* irq_calc_affinity_vectors(): reserved vectors plus one per possible CPU at most. */
static int side_affinity_vectors(int minvec, int maxvec, const struct irq_affinity *affd)
{
	unsigned int resv = affd->pre_vectors + affd->post_vectors;
	unsigned int set;

	if (resv > minvec)
		return 0;
	set = affd->calc_sets ? maxvec - resv : min_t(unsigned int, num_possible_cpus(), maxvec - resv);
	return resv + min_t(unsigned int, set, maxvec - resv);
}

static void side_msi_set_affinity(struct pci_dev *dev, unsigned int nvecs, struct irq_affinity *affd);

int pci_alloc_irq_vectors_affinity(struct pci_dev *dev, unsigned int min_vecs, unsigned int max_vecs,
				   unsigned int flags, struct irq_affinity *affd)
{
	int nvecs = -ENOSPC;

	if (!(flags & PCI_IRQ_AFFINITY) && WARN_ON(affd))
		affd = NULL;
	if (affd && (flags & (PCI_IRQ_MSIX | PCI_IRQ_MSI))) {
		max_vecs = side_affinity_vectors(min_vecs, max_vecs, affd);
		if (max_vecs < min_vecs)
			return -ENOSPC;
	}
	if (flags & PCI_IRQ_MSIX)
		nvecs = side_enable_msix_range(dev, NULL, min_vecs, max_vecs);
	if (nvecs <= 0 && (flags & PCI_IRQ_MSI))
		nvecs = side_enable_msi_range(dev, min_vecs, max_vecs);
	if (nvecs > 0) {
		if (affd)
			side_msi_set_affinity(dev, nvecs, affd);
		return nvecs;
	}
	/* The legacy line is one vector, and only for a caller that accepts it. */
	if ((flags & PCI_IRQ_LEGACY) && min_vecs == 1 && dev->irq) {
		side_msi_intx(dev, true);
		return 1;
	}
	return nvecs;
}

void pci_free_irq_vectors(struct pci_dev *dev)
{
	pci_disable_msix(dev);
	pci_disable_msi(dev);
}

int pci_irq_vector(struct pci_dev *dev, unsigned int nr)
{
	unsigned int i;

	if (!dev->msi_enabled && !dev->msix_enabled)
		return nr ? -EINVAL : dev->irq;
	for (i = 0; i < SIDE_MSI_LINES; i++) {
		if (side_msi_vecs[i].dev == dev && side_msi_vecs[i].nr == nr)
			return SIDE_MSI_FIRST_IRQ + i;
	}
	return -EINVAL;
}

/* The mask of a vector allocated with an irq_affinity; NULL for one allocated without; the legacy line has every
 * CPU. */
const struct cpumask *pci_irq_get_affinity(struct pci_dev *dev, int nr)
{
	unsigned int i;

	if (!dev->msi_enabled && !dev->msix_enabled)
		return cpu_possible_mask;
	for (i = 0; i < SIDE_MSI_LINES; i++) {
		if (side_msi_vecs[i].dev == dev && side_msi_vecs[i].nr == nr)
			return side_msi_vecs[i].has_affinity ? &side_msi_vecs[i].affinity : NULL;
	}
	return NULL;
}

/* Vector `v` of a set of `n` vectors starting at `first` gets its share of the possible CPUs (group_cpus_evenly:
 * consecutive CPUs, as evenly as they divide; with more vectors than CPUs, one CPU each, in turn). */
static void side_msi_spread_one(struct cpumask *mask, unsigned int v, unsigned int n)
{
	unsigned int ncpus = num_possible_cpus(), k = 0, cpu;

	cpumask_clear(mask);
	for_each_possible_cpu(cpu) {
		if (ncpus >= n ? k * n / ncpus == v : k == v % ncpus)
			cpumask_set_cpu(cpu, mask);
		k++;
	}
}

/* irq_create_affinity_masks(): the driver's calc_sets (or one set of all) splits the vectors after pre_vectors;
 * each set's vectors spread the CPUs among them; pre and post vectors get every CPU. */
static void side_msi_set_affinity(struct pci_dev *dev, unsigned int nvecs, struct irq_affinity *affd)
{
	unsigned int resv = affd->pre_vectors + affd->post_vectors;
	unsigned int affvecs = nvecs > resv ? nvecs - resv : 0, set, start = affd->pre_vectors, i;
	unsigned long flags;

	if (!affd->calc_sets) {
		affd->nr_sets = 1;
		affd->set_size[0] = affvecs;
	} else {
		affd->calc_sets(affd, affvecs);
	}
	if (WARN_ON_ONCE(affd->nr_sets > IRQ_AFFINITY_MAX_SETS))
		return;
	spin_lock_irqsave(&side_msi_lock, flags);
	for (i = 0; i < SIDE_MSI_LINES; i++) {
		struct side_msi_vec *v = &side_msi_vecs[i];

		if (v->dev != dev)
			continue;
		v->has_affinity = true;
		cpumask_copy(&v->affinity, cpu_possible_mask);
		for (set = 0, start = affd->pre_vectors; set < affd->nr_sets; start += affd->set_size[set++]) {
			if (v->nr >= start && v->nr < start + affd->set_size[set])
				side_msi_spread_one(&v->affinity, v->nr - start, affd->set_size[set]);
		}
	}
	spin_unlock_irqrestore(&side_msi_lock, flags);
}
