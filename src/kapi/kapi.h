/* SPDX-License-Identifier: GPL-2.0-only */
/* Internal declarations shared by the kernel-API layer's files. */
#ifndef SIDE_KAPI_H
#define SIDE_KAPI_H

#include <linux/percpu.h>
#include <linux/types.h>

#include "side_host.h"

/* The driver address that called the kernel function we are in. */
#define SIDE_CALLER ((unsigned long)__builtin_return_address(0))

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

int side_kapi_slab_init(void);
int side_kapi_page_init(void);
void side_kapi_time_init(void);
void side_kapi_printk_init(void);

#endif
