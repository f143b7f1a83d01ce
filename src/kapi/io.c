// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device memory and ports. ioremap() asks the host for a window onto a memory BAR; accesses through it trap and are
 * carried out on the emulated device, so the kernel's inline readl()/writel() work unchanged. The ioread*()/iowrite*()
 * family (lib/iomap.c) takes "cookies" that are either such a window or an I/O port offset by PIO_OFFSET; the layer
 * performs these through the host directly, without a trap.
 */
#include <linux/io.h>
#include <linux/pci.h>

#include "kapi.h"

/* lib/iomap.c's cookie space: [PIO_OFFSET, PIO_RESERVED) are ports, anything above is memory. */
#define SIDE_PIO_OFFSET 0x10000UL
#define SIDE_PIO_MASK 0x0ffffUL
#define SIDE_PIO_RESERVED 0x40000UL

void __iomem *ioremap(resource_size_t offset, unsigned long size)
{
	return (void __iomem *)side_host_ioremap(offset, size);
}

void __iomem *ioremap_uc(resource_size_t offset, unsigned long size)
{
	return ioremap(offset, size);
}

void __iomem *ioremap_wc(resource_size_t offset, unsigned long size)
{
	return ioremap(offset, size);
}

void __iomem *ioremap_cache(resource_size_t offset, unsigned long size)
{
	return ioremap(offset, size);
}

void iounmap(volatile void __iomem *addr)
{
	/* x86 ignores addresses in the direct map, NULL included (drivers rely on iounmap(NULL)). */
	if (!addr)
		return;
	side_host_iounmap((void *)addr, SIDE_CALLER);
}

static unsigned long side_port(const void __iomem *cookie)
{
	return (unsigned long)cookie & SIDE_PIO_MASK;
}

/* The kernel's bad_io_access(): a cookie below PIO_OFFSET is a driver bug it reports and reads as all ones. */
static bool side_cookie(const void __iomem *cookie, unsigned long *addr, unsigned long caller)
{
	unsigned long c = (unsigned long)cookie;

	if (c >= SIDE_PIO_RESERVED) {
		*addr = c;
		return true;
	}
	if (c > SIDE_PIO_OFFSET) {
		*addr = side_port(cookie);
		return true;
	}
	pr_err("Bad IO access at port %#lx (%pS)\n", c, (void *)caller);
	return false;
}

static u64 side_ioread(const void __iomem *cookie, u32 width, unsigned long caller)
{
	unsigned long addr;

	if (!side_cookie(cookie, &addr, caller))
		return ~0ULL;
	return side_host_io_read(addr, width, caller);
}

static void side_iowrite(void __iomem *cookie, u32 width, u64 value, unsigned long caller)
{
	unsigned long addr;

	if (side_cookie(cookie, &addr, caller))
		side_host_io_write(addr, width, value, caller);
}

unsigned int ioread8(const void __iomem *addr)
{
	return (u8)side_ioread(addr, 1, SIDE_CALLER);
}

unsigned int ioread16(const void __iomem *addr)
{
	return (u16)side_ioread(addr, 2, SIDE_CALLER);
}

unsigned int ioread16be(const void __iomem *addr)
{
	return swab16((u16)side_ioread(addr, 2, SIDE_CALLER));
}

unsigned int ioread32(const void __iomem *addr)
{
	return (u32)side_ioread(addr, 4, SIDE_CALLER);
}

unsigned int ioread32be(const void __iomem *addr)
{
	return swab32((u32)side_ioread(addr, 4, SIDE_CALLER));
}

void iowrite8(u8 value, void __iomem *addr)
{
	side_iowrite(addr, 1, value, SIDE_CALLER);
}

void iowrite16(u16 value, void __iomem *addr)
{
	side_iowrite(addr, 2, value, SIDE_CALLER);
}

void iowrite16be(u16 value, void __iomem *addr)
{
	side_iowrite(addr, 2, swab16(value), SIDE_CALLER);
}

void iowrite32(u32 value, void __iomem *addr)
{
	side_iowrite(addr, 4, value, SIDE_CALLER);
}

void iowrite32be(u32 value, void __iomem *addr)
{
	side_iowrite(addr, 4, swab32(value), SIDE_CALLER);
}

/* The _rep forms repeat an access to one register (a FIFO), moving through memory at `buf`. */
#define SIDE_IO_REP(bits, type)                                                                         \
	void ioread##bits##_rep(const void __iomem *addr, void *dst, unsigned long count)               \
	{                                                                                               \
		type *p = dst;                                                                          \
		unsigned long a;                                                                        \
                                                                                                        \
		if (!side_cookie(addr, &a, SIDE_CALLER))                                                \
			return;                                                                         \
		while (count--)                                                                         \
			*p++ = (type)side_host_io_read(a, sizeof(type), SIDE_CALLER);                   \
	}                                                                                               \
	void iowrite##bits##_rep(void __iomem *addr, const void *src, unsigned long count)              \
	{                                                                                               \
		const type *p = src;                                                                    \
		unsigned long a;                                                                        \
                                                                                                        \
		if (!side_cookie(addr, &a, SIDE_CALLER))                                                \
			return;                                                                         \
		while (count--)                                                                         \
			side_host_io_write(a, sizeof(type), *p++, SIDE_CALLER);                         \
	}

SIDE_IO_REP(8, u8)
SIDE_IO_REP(16, u16)
SIDE_IO_REP(32, u32)

/*
 * Block copies to and from a memory window (arch/x86/lib/iomem.c): the widest aligned accesses, as the kernel's
 * string moves make them, so that a device sees 32-bit reads of a 32-bit register file. Every access goes through
 * the host like ioread32(); an address outside a window is the driver fault side_host_io_read() reports.
 */
static unsigned int side_io_chunk(unsigned long addr, size_t n)
{
	if ((addr & 1) || n < 2)
		return 1;
	if ((addr & 2) || n < 4)
		return 2;
	return 4;
}

void memcpy_fromio(void *to, const volatile void __iomem *from, size_t n)
{
	unsigned long a = (unsigned long)from, caller = SIDE_CALLER;
	u8 *dst = to;

	while (n) {
		unsigned int w = side_io_chunk(a, n);
		u64 v = side_host_io_read(a, w, caller);

		memcpy(dst, &v, w);
		dst += w;
		a += w;
		n -= w;
	}
}

void memcpy_toio(volatile void __iomem *to, const void *from, size_t n)
{
	unsigned long a = (unsigned long)to, caller = SIDE_CALLER;
	const u8 *src = from;

	while (n) {
		unsigned int w = side_io_chunk(a, n);
		u64 v = 0;

		memcpy(&v, src, w);
		side_host_io_write(a, w, v, caller);
		src += w;
		a += w;
		n -= w;
	}
}

void memset_io(volatile void __iomem *to, int c, size_t n)
{
	unsigned long a = (unsigned long)to, caller = SIDE_CALLER;
	u64 pattern = 0x0101010101010101ULL * (u8)c;

	while (n) {
		unsigned int w = side_io_chunk(a, n);

		side_host_io_write(a, w, pattern, caller);
		a += w;
		n -= w;
	}
}

void __iomem *ioport_map(unsigned long port, unsigned int nr)
{
	if (port > SIDE_PIO_MASK)
		return NULL;
	return (void __iomem *)(port + SIDE_PIO_OFFSET);
}

void ioport_unmap(void __iomem *addr)
{
}

/* pci_iomap_range(): a cookie for a BAR, port or memory; maxlen 0 means the whole BAR. */
void __iomem *pci_iomap_range(struct pci_dev *dev, int bar, unsigned long offset, unsigned long maxlen)
{
	resource_size_t start, len;
	unsigned long flags;

	if (bar < 0 || bar >= PCI_STD_NUM_BARS)
		return NULL;
	start = pci_resource_start(dev, bar);
	len = pci_resource_len(dev, bar);
	flags = pci_resource_flags(dev, bar);
	if (len <= offset || !start)
		return NULL;
	len -= offset;
	start += offset;
	if (maxlen && len > maxlen)
		len = maxlen;
	if (flags & IORESOURCE_IO)
		return ioport_map(start, len);
	if (flags & IORESOURCE_MEM)
		return ioremap(start, len);
	return NULL;
}

void __iomem *pci_iomap(struct pci_dev *dev, int bar, unsigned long maxlen)
{
	return pci_iomap_range(dev, bar, 0, maxlen);
}

void pci_iounmap(struct pci_dev *dev, void __iomem *addr)
{
	unsigned long c = (unsigned long)addr;

	if (c >= SIDE_PIO_RESERVED)
		iounmap(addr);
}
