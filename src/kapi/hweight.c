// SPDX-License-Identifier: GPL-2.0-only
/*
 * Population counts as the compiler's callers expect them. arch/x86/include/asm/arch_hweight.h calls these from
 * an asm statement (the alternative to popcnt) that names only rdi as input and rax as output: every other
 * register must come back unchanged, as arch/x86/lib/hweight.S keeps them. Kbuild compiles this file with every
 * caller-saved register but rax made callee-saved (-fcall-saved-*), so the compiler keeps them for us.
 */
#include <linux/bitops.h>
#include <linux/types.h>

unsigned int __sw_hweight32(unsigned int w)
{
	w -= (w >> 1) & 0x55555555;
	w = (w & 0x33333333) + ((w >> 2) & 0x33333333);
	w = (w + (w >> 4)) & 0x0f0f0f0f;
	return (w * 0x01010101) >> 24;
}

unsigned long __sw_hweight64(__u64 w)
{
	return __sw_hweight32((unsigned int)w) + __sw_hweight32((unsigned int)(w >> 32));
}
