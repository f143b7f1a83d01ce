// SPDX-License-Identifier: GPL-2.0-only
/*
 * The DMA API. A domain's "physical" addresses are its arena's, and DMA addresses are identical to them (the host's
 * IOMMU maps I/O virtual addresses 1:1), so a mapping is computed here and only its permission is the host's: every
 * map and unmap is reported to it, and the emulated device can reach exactly what is mapped for it.
 *
 * There is no bounce buffering: a buffer beyond the device's DMA mask cannot be mapped (the kernel would bounce it
 * through swiotlb); the driver gets DMA_MAPPING_ERROR, which it must check for anyway.
 */
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/pci.h>

#include "kapi.h"

/* The smallest mask the kernel's direct mapping accepts on x86 (ZONE_DMA, 24 bits). */
#define SIDE_DMA_MIN_MASK DMA_BIT_MASK(24)

static u32 side_dma_device(struct device *dev, unsigned long caller)
{
	u32 host;

	if (side_pci_host_device(dev, &host))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller, "DMA for %px, which is not a device of this domain", dev);
	return host;
}

static void side_check_dir(enum dma_data_direction dir, unsigned long caller)
{
	/* BUG_ON(!valid_dma_direction(dir)) in the kernel. */
	if (dir != DMA_BIDIRECTIONAL && dir != DMA_TO_DEVICE && dir != DMA_FROM_DEVICE)
		side_fault(SIDE_FAULT_BUG, caller, "invalid DMA direction %d", dir);
}

static bool side_dma_capable(u64 mask, phys_addr_t addr, size_t size)
{
	return size && addr + size - 1 >= addr && addr + size - 1 <= mask;
}

int dma_supported(struct device *dev, u64 mask)
{
	return mask >= SIDE_DMA_MIN_MASK;
}

int dma_set_mask(struct device *dev, u64 mask)
{
	side_dma_device(dev, SIDE_CALLER);
	if (!dev->dma_mask || !dma_supported(dev, mask))
		return -EIO;
	*dev->dma_mask = mask;
	return 0;
}

int dma_set_coherent_mask(struct device *dev, u64 mask)
{
	side_dma_device(dev, SIDE_CALLER);
	if (!dma_supported(dev, mask))
		return -EIO;
	dev->coherent_dma_mask = mask;
	return 0;
}

static dma_addr_t side_dma_map(struct device *dev, phys_addr_t phys, size_t size, enum dma_data_direction dir,
			       unsigned long caller)
{
	u32 host = side_dma_device(dev, caller);
	int err;

	side_check_dir(dir, caller);
	if (!dev->dma_mask) {
		dev_warn(dev, "DMA mapping without a DMA mask\n");
		return DMA_MAPPING_ERROR;
	}
	if (!side_dma_capable(min_not_zero(*dev->dma_mask, dev->bus_dma_limit), phys, size)) {
		dev_err_once(dev, "DMA addr %pa+%zu overflow (mask %llx, bus limit %llx).\n", &phys, size,
			     *dev->dma_mask, dev->bus_dma_limit);
		return DMA_MAPPING_ERROR;
	}
	err = side_host_dma_map(host, phys, size, dir);
	if (err) {
		dev_err(dev, "DMA mapping of %pa+%zu refused: %d (not domain memory)\n", &phys, size, err);
		return DMA_MAPPING_ERROR;
	}
	return phys;
}

static void side_dma_unmap(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir,
			   unsigned long caller)
{
	u32 host = side_dma_device(dev, caller);

	side_check_dir(dir, caller);
	if (side_host_dma_unmap(host, addr, size, dir))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, caller,
			   "unmapping what is not mapped: DMA address %#llx, %zu bytes, direction %d",
			   (unsigned long long)addr, size, dir);
}

dma_addr_t dma_map_page_attrs(struct device *dev, struct page *page, size_t offset, size_t size,
			      enum dma_data_direction dir, unsigned long attrs)
{
	return side_dma_map(dev, page_to_phys(page) + offset, size, dir, SIDE_CALLER);
}

void dma_unmap_page_attrs(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir,
			  unsigned long attrs)
{
	side_dma_unmap(dev, addr, size, dir, SIDE_CALLER);
}

dma_addr_t dma_map_resource(struct device *dev, phys_addr_t phys_addr, size_t size, enum dma_data_direction dir,
			    unsigned long attrs)
{
	return side_dma_map(dev, phys_addr, size, dir, SIDE_CALLER);
}

void dma_unmap_resource(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir,
			unsigned long attrs)
{
	side_dma_unmap(dev, addr, size, dir, SIDE_CALLER);
}

/*
 * x86 DMA is cache-coherent: devices snoop the CPU caches, so handing a buffer to the CPU or back to the device
 * needs no cache maintenance (the kernel's dma-direct does nothing here either without swiotlb bouncing, which side
 * never does). Only the device and direction are checked.
 */
void dma_sync_single_for_cpu(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir)
{
	side_dma_device(dev, SIDE_CALLER);
	side_check_dir(dir, SIDE_CALLER);
}

void dma_sync_single_for_device(struct device *dev, dma_addr_t addr, size_t size, enum dma_data_direction dir)
{
	side_dma_device(dev, SIDE_CALLER);
	side_check_dir(dir, SIDE_CALLER);
}

/* Coherent memory: whole zeroed pages, mapped both ways for the device's lifetime of the buffer. */
void *dma_alloc_attrs(struct device *dev, size_t size, dma_addr_t *dma_handle, gfp_t gfp, unsigned long attrs)
{
	u32 host = side_dma_device(dev, SIDE_CALLER);
	unsigned int order;
	struct page *page;
	phys_addr_t phys;
	size_t len;

	if (!dev->coherent_dma_mask) {
		dev_warn(dev, "coherent DMA allocation without a coherent DMA mask\n");
		return NULL;
	}
	if (!size)
		return NULL;
	len = PAGE_ALIGN(size);
	order = get_order(len);
	page = alloc_pages((gfp & ~(__GFP_DMA | __GFP_DMA32 | __GFP_HIGHMEM | __GFP_COMP)) | __GFP_ZERO, order);
	if (!page)
		return NULL;
	phys = page_to_phys(page);
	/* The kernel would retry from a lower zone; the arena has only one. */
	if (!side_dma_capable(dev->coherent_dma_mask, phys, len) ||
	    side_host_dma_map(host, phys, len, DMA_BIDIRECTIONAL)) {
		__free_pages(page, order);
		return NULL;
	}
	*dma_handle = phys;
	return page_address(page);
}

void dma_free_attrs(struct device *dev, size_t size, void *cpu_addr, dma_addr_t dma_handle, unsigned long attrs)
{
	u32 host = side_dma_device(dev, SIDE_CALLER);
	size_t len = PAGE_ALIGN(size);

	if (!cpu_addr)
		return;
	if (virt_to_phys(cpu_addr) != dma_handle || offset_in_page(cpu_addr))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER,
			   "dma_free_attrs: %px / %#llx is not a coherent allocation", cpu_addr,
			   (unsigned long long)dma_handle);
	if (side_host_dma_unmap(host, dma_handle, len, DMA_BIDIRECTIONAL))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER,
			   "dma_free_attrs of %px (%zu bytes), which is not a coherent DMA allocation", cpu_addr, size);
	__free_pages(virt_to_page(cpu_addr), get_order(len));
}

u64 dma_get_required_mask(struct device *dev)
{
	return DMA_BIT_MASK(32);
}

size_t dma_max_mapping_size(struct device *dev)
{
	return SIZE_MAX;
}

/* ---- managed coherent memory (kernel/dma/mapping.c): freed by devres when the driver lets go of the device */

struct side_dma_devres {
	size_t size;
	void *vaddr;
	dma_addr_t dma_handle;
	unsigned long attrs;
};

static void side_dmam_release(struct device *dev, void *res)
{
	struct side_dma_devres *this = res;

	dma_free_attrs(dev, this->size, this->vaddr, this->dma_handle, this->attrs);
}

static int side_dmam_match(struct device *dev, void *res, void *match_data)
{
	struct side_dma_devres *this = res, *match = match_data;

	return this->vaddr == match->vaddr;
}

void *dmam_alloc_attrs(struct device *dev, size_t size, dma_addr_t *dma_handle, gfp_t gfp, unsigned long attrs)
{
	struct side_dma_devres *dr;
	void *vaddr;

	side_dma_device(dev, SIDE_CALLER);
	dr = devres_alloc(side_dmam_release, sizeof(*dr), gfp);
	if (!dr)
		return NULL;
	vaddr = dma_alloc_attrs(dev, size, dma_handle, gfp, attrs);
	if (!vaddr) {
		devres_free(dr);
		return NULL;
	}
	*dr = (struct side_dma_devres){ size, vaddr, *dma_handle, attrs };
	devres_add(dev, dr);
	return vaddr;
}

void dmam_free_coherent(struct device *dev, size_t size, void *vaddr, dma_addr_t dma_handle)
{
	struct side_dma_devres match = { size, vaddr, dma_handle };

	if (devres_destroy(dev, side_dmam_release, side_dmam_match, &match))
		side_fault(SIDE_FAULT_BAD_ARGUMENT, SIDE_CALLER, "dmam_free_coherent of %px, which is no managed allocation",
			   vaddr);
	dma_free_coherent(dev, size, vaddr, dma_handle);
}

/* dma_direct_need_sync(): a domain's memory is cache-coherent with its devices and nothing is bounced, so syncs
 * only check their arguments (above) and a driver may skip them. */
bool dma_need_sync(struct device *dev, dma_addr_t dma_addr)
{
	side_dma_device(dev, SIDE_CALLER);
	return false;
}
