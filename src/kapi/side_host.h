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

#ifdef __KERNEL__
#include <linux/types.h>
typedef u64 side_u64;
typedef u32 side_u32;
typedef u16 side_u16;
#else
#include <stddef.h>
#include <stdint.h>
typedef uint64_t side_u64;
typedef uint32_t side_u32;
typedef uint16_t side_u16;
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Kinds of driver fault. Each one ends the driver's current entry point; the domain is marked faulty. */
enum side_fault_kind {
	SIDE_FAULT_NONE = 0,
	SIDE_FAULT_MEMORY = 1,            /* bad memory access by driver code */
	SIDE_FAULT_ILLEGAL_INSTRUCTION = 2,
	SIDE_FAULT_BUG = 3,               /* BUG() / BUG_ON() */
	SIDE_FAULT_MISSING_SYMBOL = 4,    /* call to a kernel function the layer does not implement */
	SIDE_FAULT_BAD_ARGUMENT = 5,      /* invalid argument to a kernel service: double free, bad unlock, ... */
	SIDE_FAULT_STACK_CORRUPTION = 6,  /* stack protector */
	SIDE_FAULT_PANIC = 7,             /* panic(), fortify_panic() */
	SIDE_FAULT_DEADLOCK = 8,          /* lock recursion or a lock that is never released */
	SIDE_FAULT_RESOURCE_LIMIT = 9,    /* per-domain memory or object limit exceeded */
	SIDE_FAULT_IOMMU = 10,
	SIDE_FAULT_HUNG = 11,
	SIDE_FAULT_KIND_COUNT
};

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

/* --- kernel-API layer entry points (called by the host) ---------------------------------------------------- */

/* Called once, on the first virtual CPU, after the layer is loaded. Returns 0 or a negative errno. */
int side_kapi_init(unsigned int nr_cpus, const unsigned long *percpu_bases);
/* Called on each thread that becomes virtual CPU `cpu`, after its GS base points at its per-cpu area. */
int side_kapi_cpu_init(unsigned int cpu);
/* Parses "name=value ..." module parameters like the kernel's parse_args() and applies them through the
 * parameters' kernel_param_ops. Returns 0 or a negative errno; errors are logged kernel-style. */
int side_kapi_parse_params(const char *module, char *args, void *params, unsigned int nr_params);
/* Advances jiffies to the domain clock; called by the host's tick thread (a virtual CPU) every jiffy. */
void side_kapi_tick(void);

#ifdef __cplusplus
}
#endif

#endif /* SIDE_HOST_H */
