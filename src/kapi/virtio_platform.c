// SPDX-License-Identifier: GPL-2.0-only
/*
 * What the virtio modules ask of the platform they run on. A domain is neither a Xen guest nor a confidential
 * guest whose memory a device may not reach freely: virtio_ring's vring_use_dma_api() and virtio's
 * virtio_features_ok() read the answers here. (drivers/virtio/virtio_anchor.c, arch/x86/xen/enlighten.c)
 */
#include <linux/virtio.h>
#include <linux/virtio_anchor.h>
#include <xen/xen.h>

enum xen_domain_type xen_domain_type = XEN_NATIVE;

/* No restriction on which memory a device may access: virtio_features_ok() does not demand
 * VIRTIO_F_ACCESS_PLATFORM on this account (the device in side is given it anyway, so the DMA API is used). */
static bool side_no_restricted_mem_acc(struct virtio_device *dev)
{
	return false;
}

bool (*virtio_check_mem_acc_cb)(struct virtio_device *dev) = side_no_restricted_mem_acc;
