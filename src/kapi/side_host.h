/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The boundary between the kernel-API layer (C, compiled by kbuild with kernel flags, running as part of a driver
 * domain) and the host runtime of that domain (C++). Both sides include this header.
 *
 * side_host_*  functions the host runtime implements; the kernel-API layer calls them. The loader binds these names
 *              to the host only for the kernel-API layer itself: a driver can never import them.
 * side_kapi_*  entry points of the kernel-API layer the host calls (after resolving them in the loaded kapi module).
 *
 * Kernel code keeps only 8-byte stack alignment, so every host function is built with force_align_arg_pointer
 * (SIDE_HOST_ENTRY on the C++ side). No variadic functions cross this boundary.
 */
#ifndef SIDE_HOST_H
#define SIDE_HOST_H

/* The structures that also travel between a domain process and the supervisor (one versioned definition). */
#include "../ipc/wire.h"

#ifdef __cplusplus
extern "C" {
#endif


/* Log levels as the kernel's: 0 emerg ... 7 debug. */
#define SIDE_LOG_DEFAULT 4

struct side_memory_layout {
	side_u64 page_offset_base; /* virtual address of physical address 0 */
	side_u64 vmemmap_base;     /* address of the struct page of pfn 0 */
	side_u64 first_pfn;        /* arena pages are pfns [first_pfn, first_pfn + nr_pages) */
	side_u64 nr_pages;
	side_u64 page_struct_size; /* sizeof(struct page) the host reserved per page */
};

struct side_pci_id {
	side_u32 vendor, device, subvendor, subdevice, class_code, class_mask;
};

/* Message-signalled interrupts on side's platform (its "interrupt controller"): a device's MSI or MSI-X message is
 * a write of data = a domain interrupt line in [SIDE_MSI_FIRST_IRQ, SIDE_NR_IRQ_LINES) to SIDE_MSI_ADDRESS. The
 * kernel-API layer allocates those lines to vectors and programs the messages; the supervisor turns a device's
 * message into the line after checking it is one (as an interrupt-remapping table would). Legacy INTx lines, which
 * the host assigns (struct side_pci_device_info.irq), lie below SIDE_MSI_FIRST_IRQ. */
#define SIDE_MSI_ADDRESS 0xfee00000u
#define SIDE_MSI_FIRST_IRQ 32
#define SIDE_NR_IRQ_LINES 64

/* --- host services --------------------------------------------------------------------------------------- */

/* One complete log line (no trailing newline), already prefixed as the kernel would ("e1000 0000:00:03.0: ..."). */
void side_host_log(int level, const char *text, unsigned long len);

/* Reports a driver fault and never returns: the driver's current entry point is abandoned. `caller` is the
 * driver address responsible (a return address), or 0. */
void side_host_fault(int kind, const char *message, unsigned long caller) __attribute__((noreturn));

/* Writes "symbol+0xoff/0xsize [module]" for a code or data address; `mode` is an enum side_fmt_symbol_mode (format.h).
 * Returns the
 * length written, or -1 when the address is not inside a loaded module. */
int side_host_symbolize(unsigned long addr, char *buf, unsigned long len, int mode);

/* Physical memory of the domain (the DMA-able arena): page blocks of 2^order pages. NULL when exhausted.
 * Freeing a block that was not allocated, or with another order, is a driver fault (reported by the host). */
void *side_host_pages_alloc(unsigned int order);
void side_host_pages_free(void *addr, unsigned int order, unsigned long caller);
void side_host_memory_layout(struct side_memory_layout *out);

/* General-purpose allocations in the arena (kmalloc) and in private memory (vmalloc). Sizes are tracked by the
 * host, so that a free of something never allocated, or a double free, is detected. */
void *side_host_kmalloc(unsigned long size, unsigned long align);
void side_host_kfree(const void *p, unsigned long caller);
unsigned long side_host_ksize(const void *p); /* 0 if p is not a live kmalloc allocation */
void *side_host_vmalloc(unsigned long size);
void side_host_vfree(const void *p, unsigned long caller);
int side_host_is_vmalloc(const void *p);

/* --isolation sfi (sfi_abi.h): a check in the layer failed (`what`: SIDE_SFI_*): the driver tried to write
 * [addr, addr + len), or to branch or return to `addr`. `caller` is the driver's address responsible. Never
 * returns: the fault is recorded and the driver's entry point abandoned, before the write or branch happens. */
void side_host_sfi_fault(int what, unsigned long addr, unsigned long len, unsigned long caller)
	__attribute__((noreturn));

/* Per-cpu offsets of dynamic per-cpu allocations (alloc_percpu); 0 when exhausted. */
unsigned long side_host_percpu_alloc(unsigned long size, unsigned long align);
void side_host_percpu_free(unsigned long offset, unsigned long caller);

/* Time. The domain clock is what jiffies and ktime report; delays a driver asks for (udelay, msleep) advance it.
 * With virtual time (emulated devices) a delay returns at once with the clock moved forward; with real time it
 * waits. Lock back-off always waits in real time, measured by side_host_real_clock_ns(). */
side_u64 side_host_clock_ns(void);
void side_host_delay_ns(side_u64 ns);
side_u64 side_host_real_clock_ns(void);
void side_host_real_sleep_ns(side_u64 ns);
void side_host_yield(void);
void side_host_random(void *buf, unsigned long len);

/* PCI driver registry: the host learns which drivers exist and which devices they claim. */
int side_host_pci_register_driver(void *driver, const char *name, const struct side_pci_id *ids,
				  unsigned int nr_ids);
void side_host_pci_unregister_driver(void *driver);


/* --- devices (see "Execution contexts" below for which virtual CPU calls what) ------------------------------- */


/* PCI config space of device `dev` (the host's device number from struct side_pci_device_info). Widths 1, 2, 4.
 * Returns 0, or a negative errno for an access outside the 256-byte header or a bad width (a driver bug the
 * caller reports as PCIBIOS_BAD_REGISTER_NUMBER). */
int side_host_pci_config_read(side_u32 dev, side_u32 offset, side_u32 width, side_u32 *value);
int side_host_pci_config_write(side_u32 dev, side_u32 offset, side_u32 width, side_u32 value);

/* Maps `size` bytes of device memory at bus address `phys` (inside a memory BAR) into the domain: the result is an
 * address where every access traps and is carried out on the device (readl/writel work unchanged). NULL when
 * `phys` is in no BAR. iounmap() passes it back. */
void *side_host_ioremap(side_u64 phys, side_u64 size);
void side_host_iounmap(void *addr, unsigned long caller);
/* The same accesses without a trap, for the layer's own ioread*()/iowrite*() (width 1, 2, 4, 8; `addr` from
 * side_host_ioremap, or a port number below 0x10000 for the I/O BAR). An address in no device is a driver fault. */
side_u64 side_host_io_read(unsigned long addr, side_u32 width, unsigned long caller);
void side_host_io_write(unsigned long addr, side_u32 width, side_u64 value, unsigned long caller);

/* IOMMU. DMA addresses are the arena's physical addresses (identity-mapped I/O virtual addresses, so a mapping is
 * known without asking: the host's part is permission). map() grants device `dev` access to [phys, phys+size) in
 * `dir` (SIDE_DMA_*), page-granular and counted per page; unmap() must name exactly a range and direction that was
 * mapped and not yet unmapped. Both return 0 or a negative errno (-EINVAL: outside the arena or not mapped). */
int side_host_dma_map(side_u32 dev, side_u64 phys, side_u64 size, int dir);
int side_host_dma_unmap(side_u32 dev, side_u64 phys, side_u64 size, int dir);

/* Interrupt line `irq` now has a handler (1) or none (0): the host delivers it only while it has one. */
void side_host_irq_attach(side_u32 irq, int attached);

/* Deferred work: wakes the worker virtual CPU (it calls side_kapi_run_work()), or the softirq virtual CPU (it
 * calls side_kapi_softirq()). Cheap and callable from any context. */
void side_host_kick_worker(void);
void side_host_kick_softirq(void);

/* --- network devices ------------------------------------------------------------------------------------------ */


int side_host_netdev_register(const struct side_netdev_info *info); /* 0 or -errno (the registration fails) */
void side_host_netdev_unregister(side_u64 token);
void side_host_netdev_carrier(side_u64 token, int on);
/* The device's MAC address or MTU changed (the driver or a configuration call changed them): `info` is current. */
void side_host_netdev_changed(const struct side_netdev_info *info);
/* The driver woke (or scheduled) transmit queue `queue`: the host may submit frames again. */
void side_host_netdev_tx_wake(side_u64 token, side_u32 queue);
/* A received frame, from the Ethernet header on, as the stack would get it (skb->data after skb_push of the
 * MAC header). `csum` is the skb's ip_summed (CHECKSUM_NONE 0, CHECKSUM_UNNECESSARY 1, CHECKSUM_COMPLETE 2). */
void side_host_netdev_rx(side_u64 token, const void *frame, side_u32 len, side_u32 csum);

/* --- kernel-API layer entry points (called by the host) ---------------------------------------------------- */

/* Called once, on the first virtual CPU, after the layer is loaded. Returns 0 or a negative errno. */
int side_kapi_init(unsigned int nr_cpus, const unsigned long *percpu_bases);
/* Called on each thread that becomes virtual CPU `cpu`, after its GS base points at its per-cpu area. */
int side_kapi_cpu_init(unsigned int cpu);
/* Parses "name=value ..." module parameters like the kernel's parse_args() and applies them through the
 * parameters' kernel_param_ops. Returns 0 or a negative errno; errors are logged kernel-style. */
int side_kapi_parse_params(const char *module, char *args, void *params, unsigned int nr_params);
/* Advances jiffies to the domain clock and runs expired timers; called on vCPU 1 every jiffy. Returns the
 * nanoseconds until the next jiffy begins, when vCPU 1 is to call it again. */
side_u64 side_kapi_tick(void);


/*
 * Execution contexts. Each virtual CPU is one host thread:
 *   vCPU 0  control (process context): init, parameters, module init/exit, probe/remove, open/close, stats.
 *   vCPU 1  softirq: side_kapi_tick() (jiffies; expired timers run here in softirq context), side_kapi_irq()
 *           (hard-interrupt context, then pending softirqs), side_kapi_softirq() (NAPI polls), and
 *           side_kapi_xmit() (transmit, bottom halves disabled, as dev_queue_xmit runs it).
 *   vCPU 2  worker (process context): side_kapi_run_work() runs queued work items.
 * The layer wakes vCPU 1 and 2 with side_host_kick_softirq()/side_host_kick_worker().
 */

/* Binds the device to the registered PCI driver `driver` (from side_host_pci_register_driver) and calls its
 * probe(). Returns 0 or the probe's negative errno; *pdev receives the struct pci_dev (an opaque token). */
int side_kapi_pci_probe(void *driver, const struct side_pci_device_info *info, void **pdev);
/* Calls the driver's remove() and frees the pci_dev. */
void side_kapi_pci_remove(void *pdev);

/* dev_open()/dev_close() of a registered net_device (its side_netdev_info token). 0 or a negative errno. */
int side_kapi_netdev_open(side_u64 token);
void side_kapi_netdev_close(side_u64 token);
void side_kapi_netdev_stats(side_u64 token, struct side_netdev_stats *out);

/* Configuration, as the host's network stack changes it (dev_set_mtu, dev_set_mac_address, dev_set_rx_mode /
 * dev_set_promiscuity / dev_set_allmulti with the multicast list). Each returns 0 or a negative errno from the
 * driver (or -EOPNOTSUPP when it has no such operation, -EINVAL for a bad value). They work open or closed, as in
 * the kernel; the new values are announced again with side_host_netdev_changed(). */
int side_kapi_netdev_set_mtu(side_u64 token, side_u32 mtu);
int side_kapi_netdev_set_mac(side_u64 token, const unsigned char *mac);
/* `mc` holds `nr_mc` 6-byte multicast addresses (at most 256). */
int side_kapi_netdev_set_rx_mode(side_u64 token, side_u32 flags, const unsigned char *mc, side_u32 nr_mc);

int side_kapi_netdev_ethtool(side_u64 token, struct side_ethtool_info *out);
/* ethtool -r: the driver's nway_reset (-EOPNOTSUPP without one, -ENODEV for an absent device). */
int side_kapi_netdev_nway_reset(side_u64 token);

/* Transmits one frame (Ethernet header on, no FCS) on queue 0, as dev_queue_xmit() would hand it to the driver:
 * the layer builds an skb and calls ndo_start_xmit. `more` is netdev_xmit_more() for the driver (another frame
 * follows at once: it may defer the doorbell). Returns 0 when the driver took the frame (NETDEV_TX_OK; a frame the
 * driver drops is also taken), 1 when the queue is stopped or the driver said NETDEV_TX_BUSY (resubmit after
 * side_host_netdev_tx_wake()), or a negative errno (-ENETDOWN: not open; -ENOMEM; -EINVAL: bad length or
 * offload). `offload` (NULL: none) asks for checksum insertion and TCP segmentation as a virtio-net header does: the
 * skb is CHECKSUM_PARTIAL and GSO, as virtio_net_hdr_to_skb() builds it, and what the driver's features cannot
 * take is done in software (the checksum) or dropped and counted (segmentation: tx_dropped). */
int side_kapi_xmit(side_u64 token, const void *frame, side_u32 len, int more, const struct side_tx_offload *offload);

/* Interrupt line `irq` is asserted: runs its handlers in hard-interrupt context, then pending softirqs. Returns
 * 1 if a handler returned IRQ_HANDLED, 0 if none claimed it (or the line is disabled: then it is replayed by
 * enable_irq()). */
int side_kapi_irq(side_u32 irq);
/* Runs pending softirqs (NAPI polls, each with its budget). Returns 1 if work remains (call again soon). */
int side_kapi_softirq(void);
/* Runs queued work items until none is queued. */
void side_kapi_run_work(void);

/* --- block devices ------------------------------------------------------------------------------------------ */

/* Requests side issues to a disk a driver added (add_disk), as the block layer above a driver would: the layer
 * turns one into bios and requests within the queue's limits (max_sectors, max_segments, segment size and
 * boundary, logical block alignment), with flush and FUA as the queue's write cache calls for, and hands them to
 * the driver's queue_rq. Data lives in the domain's arena: a buffer is a list of (arena offset, length) pieces, so
 * the supervisor, which maps the arena too, can fill and read it without a copy through the channel. */
#define SIDE_BLOCK_READ 0
#define SIDE_BLOCK_WRITE 1
#define SIDE_BLOCK_FLUSH 2   /* empty flush: REQ_OP_FLUSH when the disk has a volatile write cache */
#define SIDE_BLOCK_DISCARD 3 /* no data */
#define SIDE_BLOCK_OP_MASK 0xff
#define SIDE_BLOCK_FUA 0x100      /* write: durable on completion (REQ_FUA) */
#define SIDE_BLOCK_PREFLUSH 0x200 /* write: the cache is flushed first (REQ_PREFLUSH) */
#define SIDE_BLOCK_NOWAIT 0x400   /* fail with -EAGAIN instead of waiting for a free tag (REQ_NOWAIT) */
#define SIDE_BLOCK_MAX_SEGS 1024

struct side_block_seg {
	side_u64 offset; /* in the arena; aligned to the logical block size */
	side_u32 len;    /* a multiple of the logical block size */
	side_u32 reserved;
};

#define SIDE_BLOCK_INFO_WRITE_CACHE 1
#define SIDE_BLOCK_INFO_FUA 2
#define SIDE_BLOCK_INFO_READ_ONLY 4
#define SIDE_BLOCK_INFO_DISCARD 8

struct side_block_info {
	side_u64 capacity; /* in 512-byte sectors */
	side_u32 logical_block_size, physical_block_size;
	side_u32 max_sectors, max_hw_sectors, max_segments, max_segment_size, max_discard_sectors;
	side_u32 queue_depth, nr_hw_queues, flags;
	side_u32 major, first_minor;
	char name[32];
	side_u64 requests, segments; /* driver requests side's requests became so far, and their segments */
};

/* Completion of a submitted request: `status` is 0 or a negative errno (blk_status_to_errno). Called on vCPU 1
 * (the driver's interrupt) or vCPU 2 (block work), never on the submitter's stack; must not block. */
typedef void (*side_block_done_fn)(side_u64 cookie, int status);

/* What disk `index` (in the order disks were added) is: 0, or -ENODEV. */
int side_kapi_block_info(side_u32 index, struct side_block_info *out);
/* Submits one request: `op` is SIDE_BLOCK_* with flags, `sector` and `nr_sectors` in 512-byte units, the data in
 * `segs` (as many bytes as nr_sectors). Returns 0 when accepted (`done` is then called once), or a negative errno
 * when refused (-ENODEV no such disk, -EINVAL misaligned or outside the disk or the arena, -EROFS, -EOPNOTSUPP);
 * `done` is not called then. With SIDE_BLOCK_NOWAIT a request finding no free tag ends with -EAGAIN. Runs on
 * vCPU 0 (control). */
int side_kapi_block_submit(side_u32 index, side_u32 op, side_u64 sector, side_u32 nr_sectors,
			   const struct side_block_seg *segs, side_u32 nr_segs, side_block_done_fn done,
			   side_u64 cookie);
/* The same, waiting (at most 30 s of real time) for the completion: returns its status. */
int side_kapi_block_rw(side_u32 index, side_u32 op, side_u64 sector, side_u32 nr_sectors,
		       const struct side_block_seg *segs, side_u32 nr_segs);
/* A physically contiguous buffer of 2^order pages in the arena for block data (*offset: where), and its release. */
int side_kapi_block_buffer_alloc(side_u32 order, side_u64 *offset);
void side_kapi_block_buffer_free(side_u64 offset, side_u32 order);

#ifdef __cplusplus
}
#endif

#endif /* SIDE_HOST_H */
