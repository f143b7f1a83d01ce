// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Internet checksum (RFC 1071) as the kernel's x86 csum_partial() computes it: the one's-complement sum of the
 * buffer taken as little-endian 16-bit words (a trailing odd byte is the low byte of a last word), added to `sum`
 * and returned as a 32-bit partial sum that csum_fold() reduces. Any start alignment gives the same sum.
 */
#include <linux/kernel.h>
#include <net/checksum.h>

#include "kapi.h"

static u32 side_fold64(u64 acc)
{
	acc = (acc & 0xffffffffULL) + (acc >> 32);
	acc = (acc & 0xffffffffULL) + (acc >> 32);
	return (u32)acc;
}

__wsum csum_partial(const void *buff, int len, __wsum sum)
{
	const u8 *p = buff;
	u64 acc = (__force u32)sum;

	if (len <= 0)
		return sum;
	for (; len >= 2; p += 2, len -= 2)
		acc += (u32)p[0] | (u32)p[1] << 8;
	if (len)
		acc += p[0];
	return (__force __wsum)side_fold64(acc);
}

__sum16 ip_compute_csum(const void *buff, int len)
{
	return csum_fold(csum_partial(buff, len, 0));
}
