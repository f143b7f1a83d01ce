/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A system call made straight from module code, as a hostile driver would make it: side's kernel-API layer never
 * makes one on a driver's behalf, so each one is an attack the domain's sandbox must refuse. Always inlined, so that
 * a fault's location names the calling function (the attack), not this helper.
 */
#ifndef SIDE_RAW_SYSCALL_H
#define SIDE_RAW_SYSCALL_H

static __always_inline long side_raw_syscall(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 asm("r10") = d;
	register long r8 asm("r8") = e;
	register long r9 asm("r9") = f;
	long ret;

	asm volatile("syscall"
		     : "=a"(ret)
		     : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
		     : "rcx", "r11", "memory");
	return ret;
}

#define sys0(nr) side_raw_syscall(nr, 0, 0, 0, 0, 0, 0)
#define sys1(nr, a) side_raw_syscall(nr, (long)(a), 0, 0, 0, 0, 0)
#define sys2(nr, a, b) side_raw_syscall(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(nr, a, b, c) side_raw_syscall(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(nr, a, b, c, d) side_raw_syscall(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys6(nr, a, b, c, d, e, f)                                                                       \
	side_raw_syscall(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

#endif
