// SPDX-License-Identifier: GPL-2.0-only
/* Faults a driver raises itself: stack-protector failures, fortify overflows, panic(). */
#include <linux/kernel.h>
#include <linux/panic.h>
#include <linux/string.h>

#include "kapi.h"

void side_fault(int kind, unsigned long caller, const char *fmt, ...)
{
	char msg[256];
	va_list args;

	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	side_host_fault(kind, msg, caller);
}

void side_pv_unimplemented_fault(unsigned long caller);
void side_pv_unimplemented_fault(unsigned long caller)
{
	side_fault(SIDE_FAULT_ILLEGAL_INSTRUCTION, caller, "privileged paravirt operation called from %pS",
		   (void *)caller);
}

__visible noinstr void __stack_chk_fail(void)
{
	side_fault(SIDE_FAULT_STACK_CORRUPTION, SIDE_CALLER,
		   "stack-protector: kernel stack is corrupted in: %pB", (void *)SIDE_CALLER);
}

void fortify_panic(const char *name)
{
	side_fault(SIDE_FAULT_PANIC, SIDE_CALLER, "detected buffer overflow in %s", name);
}

void panic(const char *fmt, ...)
{
	char msg[200];
	va_list args;

	va_start(args, fmt);
	vsnprintf(msg, sizeof(msg), fmt, args);
	va_end(args);
	side_fault(SIDE_FAULT_PANIC, SIDE_CALLER, "Kernel panic - not syncing: %s", msg);
}
