// SPDX-License-Identifier: GPL-2.0-only
/* Bit searches (lib/find_bit.c semantics), bit reversal and CRC32 (lib/crc32.c, little-endian). */
#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/bitrev.h>
#include <linux/crc32.h>
#include <linux/find.h>
#include <linux/kernel.h>
#include <linux/math.h>
#include <linux/minmax.h>

/* Returns the index of the first bit at or after `start` for which (word ^ invert) is set, or `nbits`. */
static unsigned long side_find_next(const unsigned long *addr1, const unsigned long *addr2, unsigned long nbits,
				    unsigned long start, unsigned long invert)
{
	unsigned long tmp;

	if (start >= nbits)
		return nbits;
	tmp = addr1[start / BITS_PER_LONG];
	if (addr2)
		tmp &= addr2[start / BITS_PER_LONG];
	tmp ^= invert;
	tmp &= BITMAP_FIRST_WORD_MASK(start);
	start = round_down(start, BITS_PER_LONG);
	while (!tmp) {
		start += BITS_PER_LONG;
		if (start >= nbits)
			return nbits;
		tmp = addr1[start / BITS_PER_LONG];
		if (addr2)
			tmp &= addr2[start / BITS_PER_LONG];
		tmp ^= invert;
	}
	return min(start + __ffs(tmp), nbits);
}

unsigned long _find_next_bit(const unsigned long *addr, unsigned long nbits, unsigned long start)
{
	return side_find_next(addr, NULL, nbits, start, 0UL);
}

unsigned long _find_next_and_bit(const unsigned long *addr1, const unsigned long *addr2, unsigned long nbits,
				 unsigned long start)
{
	return side_find_next(addr1, addr2, nbits, start, 0UL);
}

unsigned long _find_next_zero_bit(const unsigned long *addr, unsigned long nbits, unsigned long start)
{
	return side_find_next(addr, NULL, nbits, start, ~0UL);
}

unsigned long _find_first_bit(const unsigned long *addr, unsigned long size)
{
	return side_find_next(addr, NULL, size, 0, 0UL);
}

unsigned long _find_first_zero_bit(const unsigned long *addr, unsigned long size)
{
	return side_find_next(addr, NULL, size, 0, ~0UL);
}

unsigned long _find_first_and_bit(const unsigned long *addr1, const unsigned long *addr2, unsigned long size)
{
	return side_find_next(addr1, addr2, size, 0, 0UL);
}

unsigned long _find_last_bit(const unsigned long *addr, unsigned long size)
{
	unsigned long idx;

	if (!size)
		return size;
	idx = (size - 1) / BITS_PER_LONG;
	do {
		unsigned long val = addr[idx];

		if (idx == (size - 1) / BITS_PER_LONG)
			val &= BITMAP_LAST_WORD_MASK(size);
		if (val)
			return idx * BITS_PER_LONG + __fls(val);
	} while (idx--);
	return size;
}

unsigned int __bitmap_weight(const unsigned long *bitmap, unsigned int bits)
{
	unsigned int k, w = 0, lim = bits / BITS_PER_LONG;

	for (k = 0; k < lim; k++)
		w += hweight_long(bitmap[k]);
	if (bits % BITS_PER_LONG)
		w += hweight_long(bitmap[k] & BITMAP_LAST_WORD_MASK(bits));
	return w;
}

const u8 byte_rev_table[256] = {
#define R2(n) n, n + 2 * 64, n + 1 * 64, n + 3 * 64
#define R4(n) R2(n), R2(n + 2 * 16), R2(n + 1 * 16), R2(n + 3 * 16)
#define R6(n) R4(n), R4(n + 2 * 4), R4(n + 1 * 4), R4(n + 3 * 4)
	R6(0), R6(2), R6(1), R6(3)
#undef R2
#undef R4
#undef R6
};

/* Reflected CRC-32 (polynomial 0xedb88320), bit by bit: only used on small buffers such as multicast hashes. */
u32 __pure crc32_le(u32 crc, unsigned char const *p, size_t len)
{
	int i;

	while (len--) {
		crc ^= *p++;
		for (i = 0; i < 8; i++)
			crc = (crc >> 1) ^ ((crc & 1) ? 0xedb88320 : 0);
	}
	return crc;
}

u32 __pure crc32_be(u32 crc, unsigned char const *p, size_t len)
{
	int i;

	while (len--) {
		crc ^= (u32)*p++ << 24;
		for (i = 0; i < 8; i++)
			crc = (crc << 1) ^ ((crc & 0x80000000) ? 0x04c11db7 : 0);
	}
	return crc;
}
