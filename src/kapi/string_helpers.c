// SPDX-License-Identifier: GPL-2.0-only
/*
 * Text helpers drivers print sizes and sysfs values with (lib/string_helpers.c, lib/string.c, fs/sysfs/file.c).
 */
#include <linux/kernel.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/string.h>
#include <linux/string_helpers.h>
#include <linux/sysfs.h>

#include "kapi.h"

/* "1.00 GiB", "8.59 GB": three significant digits, rounded half up, as string_get_size prints a size of `size`
 * blocks of `blk_size` bytes. The size is first brought under 2^32 (each division is one unit step), then
 * multiplied by the block size and divided down; what the last division left becomes the decimals. */
void string_get_size(u64 size, u64 blk_size, const enum string_size_units units, char *buf, int len)
{
	static const char *const names[2][9] = {
		{ "B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB" },
		{ "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB" },
	};
	static const unsigned int round_at[] = { 500, 50, 5 };
	const unsigned int base = units == STRING_UNITS_2 ? 1024 : 1000;
	unsigned int step = 0, digits = 0, rest = 0, whole;
	char frac[8] = "";

	if (!blk_size)
		size = 0;
	if (size) {
		for (; blk_size >> 32; step++)
			blk_size = div_u64(blk_size, base);
		for (; size >> 32; step++)
			size = div_u64(size, base);
		size *= blk_size;
		for (; size >= base; step++)
			size = div_u64_rem(size, base, &rest);
		for (whole = size; whole * 10 < 1000; digits++)
			whole *= 10;
		if (base == 1024)
			rest = (rest * 1000) >> 10; /* the remainder as thousandths */
		rest += round_at[digits];
		if (rest >= 1000) {
			rest -= 1000;
			size++;
		}
		if (digits) {
			snprintf(frac, sizeof(frac), ".%03u", rest);
			frac[digits + 1] = '\0';
		}
	}
	snprintf(buf, len, "%u%s %s", (u32)size, frac,
		 step < ARRAY_SIZE(names[0]) ? names[units == STRING_UNITS_2][step] : "UNK");
}

/* sysfs attributes are written into one page the caller provides (sysfs_emit refuses any other buffer). */
int sysfs_emit(char *buf, const char *fmt, ...)
{
	va_list args;
	int len;

	if (!buf || offset_in_page(buf)) {
		pr_warn("invalid sysfs_emit: buf:%p (from %pS)\n", buf, (void *)SIDE_CALLER);
		return 0;
	}
	va_start(args, fmt);
	len = vscnprintf(buf, PAGE_SIZE, fmt, args);
	va_end(args);
	return len;
}

/* Equal, a trailing newline on either side aside (sysfs_streq). */
bool sysfs_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	if (*a == *b)
		return true;
	if (!*a && *b == '\n' && !b[1])
		return true;
	return *a == '\n' && !a[1] && !*b;
}

int __sysfs_match_string(const char *const *array, size_t n, const char *str)
{
	size_t i;

	for (i = 0; i < n && array[i]; i++) {
		if (sysfs_streq(array[i], str))
			return i;
	}
	return -EINVAL;
}
