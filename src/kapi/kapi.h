/* SPDX-License-Identifier: GPL-2.0-only */
/* Internal declarations shared by the kernel-API layer's files. */
#ifndef SIDE_KAPI_H
#define SIDE_KAPI_H

#include <linux/percpu.h>
#include <linux/types.h>

#include "sfi_abi.h"
#include "side_host.h"

DECLARE_PER_CPU(struct side_sfi_crossing, side_kapi_sfi_crossing);
extern const char side_kapi_sfi_enter_layer_ret[];

/* sfi mode: a driver's call reaches the layer through side_kapi_sfi_enter_layer (sfi_thunks.S), so the return
 * address of a layer function it called is the crossing's; the driver's own was kept on the layer's stack, 16
 * bytes below where the crossing found the layer's stack pointer, which the crossing state still holds. */
static inline unsigned long side_driver_caller(unsigned long ip)
{
	if (ip != (unsigned long)side_kapi_sfi_enter_layer_ret)
		return ip;
	return *(const unsigned long *)(this_cpu_read(side_kapi_sfi_crossing.layer_sp) - 16);
}

/* The driver address that called the kernel function we are in. */
#define SIDE_CALLER side_driver_caller((unsigned long)__builtin_return_address(0))

/* Virtual interrupt flag of each virtual CPU: X86_EFLAGS_IF when "interrupts" are enabled. */
DECLARE_PER_CPU(unsigned long, side_virq_flags);

/* Formats a message and reports a driver fault; never returns. */
void side_fault(int kind, unsigned long caller, const char *fmt, ...) __printf(3, 4) __noreturn;

/* printk core: level is 0..7 or -1 for the default; the text may contain several lines. */
void side_log_text(int level, const char *prefix, const char *text);
int side_vprintk_prefixed(int level, const char *prefix, const char *fmt, va_list args);

/* The host's device number of a PCI device of the domain (pci.c); -ENODEV if `dev` is none. */
struct device;
int side_pci_host_device(struct device *dev, u32 *host);
/* Runs the timers that are due (timer.c); called from side_kapi_tick() on vCPU 1. */
void side_run_timers(void);
/* Makes vCPU 1 run the timer softirq, which replays interrupts enable_irq() found pending (irq.c). */
void side_raise_timer_softirq(void);
void side_irq_resend(void);
/* The calling virtual CPU returns to the host outside any RCU reader (rcu.c). */
void side_rcu_quiescent_state(void);

/* A device's BARs enter the resource tree when it is bound and leave it when it goes (resource.c). */
struct pci_dev;
void side_resource_claim_bars(struct pci_dev *dev);
void side_resource_release_bars(struct pci_dev *dev);
/* A managed (pcim_enable_device) device's region was requested or released (pci_devres.c). */
void side_pcim_note_region(struct pci_dev *pdev, int bar, bool requested);
/* Finds the PCI Express capability of a device being bound (pcie.c). */
void side_pcie_init(struct pci_dev *dev);
/* msi.c: capabilities found and left off at probe; whatever MSI/MSI-X the driver left on goes at remove; an
 * interrupt line got its first handler (start) or lost its last. */
void side_msi_init(struct pci_dev *dev);
void side_msi_release(struct pci_dev *dev);
void side_msi_irq_startup(unsigned int irq, bool start);
/* irq.c: whether line `irq` has a handler (irq_has_action()). */
bool side_irq_has_action(unsigned int irq);
/* Runtime PM as the PCI core sets it up around binding a driver (pm_runtime.c). */
void side_pm_runtime_bind(struct device *dev);
void side_pm_runtime_unbind(struct device *dev);
/* Releases every managed resource of `dev`, newest first (devres.c). */
void side_devres_release_all(struct device *dev);

/* sleep_wait.c: waits (real time, backing off) until cond(arg) or timeout_ns passed; returns whether cond held.
 * A sleeping call made where sleeping is not allowed is reported as Linux's might_sleep() reports it. */
bool side_wait_cond_ns(bool (*cond)(void *), void *arg, u64 timeout_ns);
void side_check_might_sleep(const char *what, unsigned long caller);
/* What a sleep with no timeout of its own waits at most before it is a detected hang. */
#define SIDE_SLEEP_HANG_NS (30ULL * NSEC_PER_SEC)

int side_kapi_slab_init(void);
int side_kapi_page_init(void);
void side_kapi_time_init(void);
void side_kapi_printk_init(void);

#endif
