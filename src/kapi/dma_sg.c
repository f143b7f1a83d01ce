// SPDX-License-Identifier: GPL-2.0-only
/*
 * Scatter-gather DMA mappings (kernel/dma/mapping.c over dma-direct): each entry is mapped as dma_map_page maps a
 * page range (dma.c: the permissions the supervisor grants the device), entries are never merged, and a failed
 * entry unmaps the ones before it. Unmapping takes the entry count given at mapping time, as Linux requires.
 * Peer-to-peer DMA between PCI functions is not offered: a domain's DMA reaches its arena only.
 */
#include <linux/dma-mapping.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>

#include "kapi.h"

static int side_dma_map_sg(struct device *dev, struct scatterlist *sgl, int nents, enum dma_data_direction dir,
			   unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	if (nents <= 0)
		return -EINVAL;
	for_each_sg(sgl, sg, nents, i) {
		sg->dma_address = dma_map_page_attrs(dev, sg_page(sg), sg->offset, sg->length, dir, attrs);
		if (dma_mapping_error(dev, sg->dma_address)) {
			dma_unmap_sg_attrs(dev, sgl, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
			return -EIO;
		}
		sg_dma_len(sg) = sg->length;
	}
	return nents;
}

unsigned int dma_map_sg_attrs(struct device *dev, struct scatterlist *sg, int nents, enum dma_data_direction dir,
			      unsigned long attrs)
{
	int ret = side_dma_map_sg(dev, sg, nents, dir, attrs);

	return ret < 0 ? 0 : ret;
}

int dma_map_sgtable(struct device *dev, struct sg_table *sgt, enum dma_data_direction dir, unsigned long attrs)
{
	int nents = side_dma_map_sg(dev, sgt->sgl, sgt->orig_nents, dir, attrs);

	if (nents < 0)
		return nents;
	sgt->nents = nents;
	return 0;
}

void dma_unmap_sg_attrs(struct device *dev, struct scatterlist *sgl, int nents, enum dma_data_direction dir,
			unsigned long attrs)
{
	struct scatterlist *sg;
	int i;

	for_each_sg(sgl, sg, nents, i)
		dma_unmap_page_attrs(dev, sg->dma_address, sg_dma_len(sg), dir, attrs);
}

bool dma_pci_p2pdma_supported(struct device *dev)
{
	return false;
}
