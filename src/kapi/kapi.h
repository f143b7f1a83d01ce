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

int side_kapi_slab_init(void);
int side_kapi_page_init(void);
void side_kapi_time_init(void);
void side_kapi_printk_init(void);

#endif
