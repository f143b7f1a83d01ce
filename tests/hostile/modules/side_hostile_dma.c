// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile driver, DMA and the e1000 model: a PCI driver for the emulated e1000 (8086:100e) that maps BAR0 and
 * programs transmit/receive descriptors itself, one attack chosen by the parameter `attack`
 * (tests/hostile/attacks.json). The device model must refuse every access outside the driver's DMA mappings (an
 * IOMMU fault located in the driver) and never overrun, loop or stall on a descriptor sequence.
 */
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/dma-mapping.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/slab.h>

static char *attack = "";
module_param(attack, charp, 0444);

#define TCTL 0x0400
#define RCTL 0x0100
#define TDBAL 0x3800
#define TDBAH 0x3804
#define TDLEN 0x3808
#define TDH 0x3810
#define TDT 0x3818
#define RDBAL 0x2800
#define RDBAH 0x2804
#define RDLEN 0x2808
#define RDH 0x2810
#define RDT 0x2818
#define TCTL_EN 0x2
#define RCTL_EN 0x2
#define CMD_EOP 0x01
#define CMD_IFCS 0x02
#define CMD_IC 0x04
#define CMD_RS 0x08
#define CMD_DEXT 0x20
#define RING 16

struct txd {
	__le64 addr;
	__le32 lower; /* legacy: length | cso << 16 | cmd << 24; extended: type, length and command */
	__le32 upper; /* legacy: status | css << 8 | special << 16; extended: status, hdr_len/popts, mss/special */
};

struct hostile {
	struct pci_dev *pdev;
	void __iomem *bar;
	struct txd *ring;
	dma_addr_t ring_dma;
	u8 *buf;
	dma_addr_t buf_dma;
};

static void legacy(struct txd *d, u64 addr, u16 len, u8 cmd, u8 cso, u8 css)
{
	d->addr = cpu_to_le64(addr);
	d->lower = cpu_to_le32(len | (u32)cso << 16 | (u32)cmd << 24);
	d->upper = cpu_to_le32((u32)css << 8);
}

/* A TCP/IP context descriptor: offsets of the IP and TCP headers and checksums, TSO header length and MSS. */
static void context(struct txd *d, u8 ipcss, u8 ipcso, u8 tucss, u8 tucso, u32 paylen, u8 hdr_len, u16 mss)
{
	d->addr = cpu_to_le64(ipcss | (u64)ipcso << 8 | (u64)tucss << 32 | (u64)tucso << 40);
	d->lower = cpu_to_le32(paylen | 0x20000000 /* DEXT */ | 0x04000000 /* TSE */ | 0x02000000 /* IP */ |
			       0x01000000 /* TCP */);
	d->upper = cpu_to_le32((u32)hdr_len << 8 | (u32)mss << 16);
}

/* A TCP/IP data descriptor (extended), part of a TSO frame when tse. */
static void data(struct txd *d, u64 addr, u32 len, bool eop, bool tse)
{
	d->addr = cpu_to_le64(addr);
	d->lower = cpu_to_le32(len | 0x00100000 /* DTYP data */ | 0x20000000 /* DEXT */ |
			       (eop ? 0x01000000 : 0) | (tse ? 0x04000000 : 0) | 0x02000000 /* IFCS */);
	d->upper = cpu_to_le32(0x00000300 /* POPTS: IXSM | TXSM */);
}

static void start_tx(struct hostile *h, u32 tdh, u32 tdt, u32 len)
{
	int i;

	writel(lower_32_bits(h->ring_dma), h->bar + TDBAL);
	writel(upper_32_bits(h->ring_dma), h->bar + TDBAH);
	writel(len, h->bar + TDLEN);
	writel(tdh, h->bar + TDH);
	writel(TCTL_EN, h->bar + TCTL);
	writel(tdt, h->bar + TDT);
	/* Until the device has taken every descriptor, or has stopped taking them (a bounded wait). */
	for (i = 0; i < 400 && readl(h->bar + TDH) != tdt; i++)
		msleep(1);
	msleep(20);
}

/* A valid-looking 54-byte TCP/IP header followed by payload, at the start of buf. */
static void headers(u8 *b)
{
	memset(b, 0, 2048);
	memset(b, 0xff, 6);
	b[12] = 0x08;
	b[14] = 0x45;
	b[16] = 0x07; /* total length 2000 */
	b[17] = 0xd0;
	b[22] = 64;
	b[23] = 6;
	b[46] = 0x50;
}

static noinline void attack_tx_outside(struct hostile *h)
{
	legacy(&h->ring[0], 0xdead0000ULL, 60, CMD_EOP | CMD_IFCS | CMD_RS, 0, 0);
	start_tx(h, 0, 1, RING * 16);
}

static noinline void attack_tx_at_ring(struct hostile *h)
{
	/* The frame's data is the descriptor ring itself: allowed (it is mapped), never more than the ring. */
	legacy(&h->ring[0], h->ring_dma, 4096, CMD_EOP | CMD_IFCS | CMD_RS, 0, 0);
	start_tx(h, 0, 1, RING * 16);
}

static noinline void attack_tx_straddle(struct hostile *h)
{
	/* Starts inside the mapped buffer and runs past its end. */
	legacy(&h->ring[0], h->buf_dma + 4096 - 30, 1500, CMD_EOP | CMD_IFCS | CMD_RS, 0, 0);
	start_tx(h, 0, 1, RING * 16);
}

static noinline void attack_rx_outside(struct hostile *h)
{
	struct txd *rx = h->ring; /* receive descriptors: buffer address, then status written back */

	rx[0].addr = cpu_to_le64(0xdead0000ULL);
	writel(lower_32_bits(h->ring_dma), h->bar + RDBAL);
	writel(upper_32_bits(h->ring_dma), h->bar + RDBAH);
	writel(RING * 16, h->bar + RDLEN);
	writel(0, h->bar + RDH);
	writel(RING - 1, h->bar + RDT);
	writel(RCTL_EN | 0x8018 /* broadcast, promiscuous */, h->bar + RCTL);
	msleep(500);
}

static noinline void attack_rx_wrong_direction(struct hostile *h)
{
	/* A buffer mapped for the device to read only, given to the device to write into. */
	dma_addr_t ro = dma_map_single(&h->pdev->dev, h->buf + 2048, 2048, DMA_TO_DEVICE);
	struct txd *rx = h->ring;
	int i;

	for (i = 0; i < RING; i++)
		rx[i].addr = cpu_to_le64(ro);
	writel(lower_32_bits(h->ring_dma), h->bar + RDBAL);
	writel(upper_32_bits(h->ring_dma), h->bar + RDBAH);
	writel(RING * 16, h->bar + RDLEN);
	writel(0, h->bar + RDH);
	writel(RING - 1, h->bar + RDT);
	writel(RCTL_EN | 0x8018, h->bar + RCTL);
	msleep(500);
}

static noinline void attack_tdt_beyond_tdlen(struct hostile *h)
{
	legacy(&h->ring[0], h->buf_dma, 60, CMD_EOP | CMD_IFCS, 0, 0);
	start_tx(h, 0, 100000, RING * 16);
}

static noinline void attack_tdh_beyond_tdlen(struct hostile *h)
{
	start_tx(h, 5000, 1, RING * 16);
}

static noinline void attack_tdlen_huge(struct hostile *h)
{
	/* A ring of 2^20 descriptors over a 4 KiB mapping. */
	start_tx(h, 0, (1 << 20) - 1, 16 << 20);
}

static noinline void attack_zero_lengths(struct hostile *h)
{
	int i;

	for (i = 0; i < RING; i++)
		legacy(&h->ring[i], h->buf_dma, 0, i == RING - 1 ? CMD_EOP : 0, 0, 0);
	start_tx(h, 0, RING - 1, RING * 16);
}

static noinline void attack_no_eop(struct hostile *h)
{
	/* A frame that never ends: every descriptor continues it, past the largest frame. */
	int i;

	for (i = 0; i < RING; i++)
		legacy(&h->ring[i], h->buf_dma, 4096, 0, 0, 0);
	start_tx(h, 0, RING - 1, RING * 16);
}

static noinline void attack_ring_wrap(struct hostile *h)
{
	/* A multi-descriptor frame that wraps from the last descriptor to the first. */
	headers(h->buf);
	legacy(&h->ring[RING - 2], h->buf_dma, 500, CMD_IFCS, 0, 0);
	legacy(&h->ring[RING - 1], h->buf_dma + 500, 500, CMD_IFCS, 0, 0);
	legacy(&h->ring[0], h->buf_dma + 1000, 500, CMD_IFCS | CMD_EOP, 0, 0);
	start_tx(h, RING - 2, 1, RING * 16);
}

static noinline void attack_csum_past_end(struct hostile *h)
{
	/* Legacy checksum offload: start and store offsets past the end of a 60-byte frame. */
	legacy(&h->ring[0], h->buf_dma, 60, CMD_EOP | CMD_IFCS | CMD_IC, 250, 200);
	start_tx(h, 0, 1, RING * 16);
}

static noinline void attack_tso_bad_offsets(struct hostile *h)
{
	headers(h->buf);
	context(&h->ring[0], 250, 255, 240, 255, 1000, 255, 1);
	data(&h->ring[1], h->buf_dma, 1054, true, true);
	start_tx(h, 0, 2, RING * 16);
}

static noinline void attack_tso_mss_zero(struct hostile *h)
{
	headers(h->buf);
	context(&h->ring[0], 14, 24, 34, 50, 1946, 54, 0);
	data(&h->ring[1], h->buf_dma, 2000, true, true);
	start_tx(h, 0, 2, RING * 16);
}

static noinline void attack_tso_context_midframe(struct hostile *h)
{
	/* Valid offsets validated for the first segment, then replaced by a context descriptor in mid-frame. */
	headers(h->buf);
	context(&h->ring[0], 14, 24, 34, 50, 1946, 54, 100);
	data(&h->ring[1], h->buf_dma, 1000, false, true);
	context(&h->ring[2], 250, 255, 240, 255, 1946, 255, 100);
	data(&h->ring[3], h->buf_dma + 1000, 1000, true, true);
	start_tx(h, 0, 4, RING * 16);
}

static noinline void attack_vlan_tag(struct hostile *h)
{
	/* VLAN insertion (VLE) on a frame too short to hold an Ethernet header. */
	legacy(&h->ring[0], h->buf_dma, 4, CMD_EOP | CMD_IFCS | 0x40 /* VLE */, 0, 0);
	h->ring[0].upper = cpu_to_le32(0xffff0000);
	start_tx(h, 0, 1, RING * 16);
}

static noinline void attack_tx_wrong_direction(struct hostile *h)
{
	/*
	 * The frame's data in a buffer mapped for the device to write only, given to the device to read. A page of its
	 * own: permissions are per page (as an IOMMU's), and buf's page is mapped both ways (coherent).
	 */
	u8 *mem = kmalloc(3 * 4096, GFP_KERNEL);
	u8 *page = PTR_ALIGN(mem, 4096);
	dma_addr_t wo;

	if (!mem)
		return;
	wo = dma_map_single(&h->pdev->dev, page, 4096, DMA_FROM_DEVICE);
	legacy(&h->ring[0], wo, 60, CMD_EOP | CMD_IFCS | CMD_RS, 0, 0);
	start_tx(h, 0, 1, RING * 16);
	dma_unmap_single(&h->pdev->dev, wo, 4096, DMA_FROM_DEVICE);
	kfree(mem);
}

static noinline void attack_ring_outside(struct hostile *h)
{
	/* The descriptor ring itself where nothing is mapped. */
	writel(0xdead0000, h->bar + TDBAL);
	writel(0, h->bar + TDBAH);
	writel(RING * 16, h->bar + TDLEN);
	writel(0, h->bar + TDH);
	writel(TCTL_EN, h->bar + TCTL);
	writel(1, h->bar + TDT);
	readl(h->bar + TDH); /* the supervisor has carried out the kick once this is answered */
	msleep(50);
}

static noinline void attack_multi_desc_hole(struct hostile *h)
{
	/* A frame over three descriptors whose middle one is outside the mappings: no part of it may leave. */
	headers(h->buf);
	legacy(&h->ring[0], h->buf_dma, 500, CMD_IFCS, 0, 0);
	legacy(&h->ring[1], 0xdead0000ULL, 500, CMD_IFCS, 0, 0);
	legacy(&h->ring[2], h->buf_dma + 1000, 500, CMD_IFCS | CMD_EOP, 0, 0);
	start_tx(h, 0, 3, RING * 16);
}

static noinline void attack_csum_context_past_end(struct hostile *h)
{
	/* A checksum (not TSO) context whose offsets lie past the end of the 60-byte frame that follows it. */
	headers(h->buf);
	context(&h->ring[0], 14, 24, 200, 250, 0, 0, 0);
	h->ring[0].lower &= cpu_to_le32(~0x04000000U); /* no TSE */
	data(&h->ring[1], h->buf_dma, 60, true, false);
	start_tx(h, 0, 2, RING * 16);
}

struct hostile_attack {
	const char *name;
	void (*run)(struct hostile *h);
};

#define A(n) { #n, attack_##n }
static const struct hostile_attack attacks[] = {
	A(tx_outside), A(tx_at_ring), A(tx_straddle), A(rx_outside), A(rx_wrong_direction), A(tdt_beyond_tdlen),
	A(tdh_beyond_tdlen), A(tdlen_huge), A(zero_lengths), A(no_eop), A(ring_wrap), A(csum_past_end),
	A(tso_bad_offsets), A(tso_mss_zero), A(tso_context_midframe), A(vlan_tag), A(tx_wrong_direction),
	A(ring_outside), A(multi_desc_hole), A(csum_context_past_end),
};

static int hostile_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct hostile h;
	size_t i;
	int err;

	err = pci_enable_device(pdev);
	if (err)
		return err;
	pci_set_master(pdev);
	h.pdev = pdev;
	h.bar = pci_iomap(pdev, 0, 0);
	h.ring = dma_alloc_coherent(&pdev->dev, 4096, &h.ring_dma, GFP_KERNEL);
	h.buf = dma_alloc_coherent(&pdev->dev, 4096, &h.buf_dma, GFP_KERNEL);
	if (!h.bar || !h.ring || !h.buf)
		return -ENOMEM;
	memset(h.ring, 0, 4096);
	for (i = 0; i < ARRAY_SIZE(attacks); i++) {
		if (strcmp(attack, attacks[i].name))
			continue;
		attacks[i].run(&h);
		writel(0, h.bar + TCTL);
		writel(0, h.bar + RCTL);
		dev_info(&pdev->dev, "side_hostile_dma: %s done\n", attack);
		return -ENODEV;
	}
	dev_err(&pdev->dev, "side_hostile_dma: unknown attack '%s'\n", attack);
	return -EINVAL;
}

static void hostile_remove(struct pci_dev *pdev)
{
}

static const struct pci_device_id hostile_ids[] = {
	{ PCI_DEVICE(0x8086, 0x100e) },
	{ }
};
MODULE_DEVICE_TABLE(pci, hostile_ids);

static struct pci_driver hostile_driver = {
	.name = "side_hostile_dma",
	.id_table = hostile_ids,
	.probe = hostile_probe,
	.remove = hostile_remove,
};
module_pci_driver(hostile_driver);
MODULE_LICENSE("GPL");
