// SPDX-License-Identifier: GPL-2.0-only
/*
 * --isolation sfi: the rights check in C (the slow path of the translator's inline checks, and the checked
 * variants of the exports that write through a pointer the driver gives them), and the fault reports of the
 * checked thunks (sfi_thunks.S).
 *
 * In sfi mode the host resolves a driver's import of X to side_kapi_sfi_X when the layer defines one, so these
 * wrappers stand between the driver and memcpy & co.: the destination range is checked against the rights bitmap
 * before a byte is written, and a range the driver may not write is a driver fault naming the caller. The
 * layer's own calls to memcpy are unchecked (the layer is trusted code, and writes its own data). The exports
 * that write a result or initialise an object through a driver's pointer are checked in sfi_checked_out.c.
 */
#include <linux/export.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "kapi.h"
#include "sfi_abi.h"
#include "sfi_checked.h"
#include "side_host.h"

#undef memcpy
#undef memset
#undef memmove

struct side_sfi_state side_kapi_sfi;

/* Whether the driver may write [p, p + n): inside the window, and every granule's rights bit set. */
static bool side_kapi_sfi_writable(unsigned long p, unsigned long n)
{
	const unsigned long size = 1ul << side_kapi_sfi.window_log2;
	const unsigned long long *rights = (const unsigned long long *)side_kapi_sfi.rights;
	unsigned long off = p - side_kapi_sfi.window_base, g, last;

	if (!n)
		return true;
	if (off >= size || n > size - off)
		return false;
	last = (off + n - 1) >> 3;
	g = off >> 3;
	/* Most ranges (a frame copied into an skb, a header) lie within one word of the bitmap: one test. */
	if ((g >> 6) == (last >> 6)) {
		unsigned long long mask = (~0ull >> (63 - (last - g))) << (g & 63);

		return (rights[g >> 6] & mask) == mask;
	}
	while (g <= last) {
		unsigned long long word = rights[g >> 6];
		unsigned long bit = g & 63, span = min(64 - bit, last - g + 1);
		unsigned long long mask = (span == 64 ? ~0ull : ((1ull << span) - 1)) << bit;

		if ((word & mask) != mask)
			return false;
		g += span;
	}
	return true;
}

void side_sfi_check_write(const void *p, unsigned long n, unsigned long caller)
{
	if (side_kapi_sfi.enabled && !side_kapi_sfi_writable((unsigned long)p, n))
		side_host_sfi_fault(SIDE_SFI_WRITE, (unsigned long)p, n, caller);
}

/* The translator's slow path (sfi_thunks.S: side_kapi_sfi_violation): returns only if the whole range is writable. */
void side_kapi_sfi_slow_path(unsigned long addr, unsigned long len, unsigned long caller)
{
	/* writel() & co.: the access traps and the device-access emulation decides. */
	if (addr - side_kapi_sfi.io_base < side_kapi_sfi.io_len && len <= side_kapi_sfi.io_len - (addr - side_kapi_sfi.io_base))
		return;
	/* The translator's check of a new stack pointer found it outside this vCPU's driver stack. */
	if (len == SIDE_SFI_BAD_STACK_LENGTH)
		side_host_sfi_fault(SIDE_SFI_STACK, addr, 0, caller);
	/* A string store of zero elements writes nothing; every other length is checked whole (an impossible one,
	 * ~0, stands for a count that overflowed or a downward string store). */
	if (len)
		side_sfi_check_write((const void *)addr, len, caller);
}

void side_kapi_sfi_bad_branch(unsigned long unused, unsigned long target, unsigned long caller)
{
	side_host_sfi_fault(SIDE_SFI_BRANCH, target, 0, caller);
}

extern const char side_kapi_sfi_enter_driver_ret[];

/* A driver function the layer called returns into the crossing: the report names that function (the crossing
 * keeps it on the layer's stack, where the crossing state's layer_sp points), not the crossing. */
void side_kapi_sfi_bad_return(unsigned long unused, unsigned long got, unsigned long expected)
{
	if (expected == (unsigned long)side_kapi_sfi_enter_driver_ret)
		expected = *(const unsigned long *)this_cpu_read(side_kapi_sfi_crossing.layer_sp);
	side_host_sfi_fault(SIDE_SFI_RETURN, got, 0, expected);
}

void side_kapi_sfi_bad_stack(unsigned long unused, unsigned long slot, unsigned long caller)
{
	side_host_sfi_fault(SIDE_SFI_STACK, slot, 8, caller);
}

void *side_kapi_sfi_memcpy(void *dest, const void *src, size_t n)
{
	CHECK(dest, n);
	return memcpy(dest, src, n);
}

void *side_kapi_sfi___memcpy(void *dest, const void *src, size_t n)
{
	CHECK(dest, n);
	return memcpy(dest, src, n);
}

void *side_kapi_sfi_memset(void *s, int c, size_t n)
{
	CHECK(s, n);
	return memset(s, c, n);
}

void *side_kapi_sfi___memset(void *s, int c, size_t n)
{
	CHECK(s, n);
	return memset(s, c, n);
}

void *side_kapi_sfi_memmove(void *dest, const void *src, size_t n)
{
	CHECK(dest, n);
	return memmove(dest, src, n);
}

void *side_kapi_sfi___memmove(void *dest, const void *src, size_t n)
{
	CHECK(dest, n);
	return memmove(dest, src, n);
}

char *side_kapi_sfi_strcpy(char *dest, const char *src)
{
	CHECK(dest, strlen(src) + 1);
	return strcpy(dest, src);
}

/* The bounded copies may write up to their bound (strncpy pads with zeros): the bound is the range checked. */
char *side_kapi_sfi_strncpy(char *dest, const char *src, size_t count)
{
	CHECK(dest, count);
	return strncpy(dest, src, count);
}

size_t side_kapi_sfi_strlcpy(char *dest, const char *src, size_t size)
{
	CHECK(dest, size);
	return strlcpy(dest, src, size);
}

ssize_t side_kapi_sfi_strscpy(char *dest, const char *src, size_t count)
{
	CHECK(dest, count);
	return strscpy(dest, src, count);
}

ssize_t side_kapi_sfi_strscpy_pad(char *dest, const char *src, size_t count)
{
	CHECK(dest, count);
	return strscpy_pad(dest, src, count);
}

char *side_kapi_sfi_strcat(char *dest, const char *src)
{
	CHECK(dest + strlen(dest), strlen(src) + 1);
	return strcat(dest, src);
}

char *side_kapi_sfi_strncat(char *dest, const char *src, size_t count)
{
	CHECK(dest + strlen(dest), strnlen(src, count) + 1);
	return strncat(dest, src, count);
}

size_t side_kapi_sfi_strlcat(char *dest, const char *src, size_t count)
{
	CHECK(dest, count);
	return strlcat(dest, src, count);
}

int side_kapi_sfi_vsnprintf(char *buf, size_t size, const char *fmt, va_list args)
{
	CHECK(buf, size);
	return vsnprintf(buf, size, fmt, args);
}

int side_kapi_sfi_vscnprintf(char *buf, size_t size, const char *fmt, va_list args)
{
	CHECK(buf, size);
	return vscnprintf(buf, size, fmt, args);
}

int side_kapi_sfi_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list args;
	int n;

	CHECK(buf, size);
	va_start(args, fmt);
	n = vsnprintf(buf, size, fmt, args);
	va_end(args);
	return n;
}

int side_kapi_sfi_scnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list args;
	int n;

	CHECK(buf, size);
	va_start(args, fmt);
	n = vscnprintf(buf, size, fmt, args);
	va_end(args);
	return n;
}

/* sprintf has no bound: the length it will write is measured first. */
int side_kapi_sfi_vsprintf(char *buf, const char *fmt, va_list args)
{
	va_list measure;
	int n;

	va_copy(measure, args);
	n = vsnprintf(NULL, 0, fmt, measure);
	va_end(measure);
	CHECK(buf, (unsigned long)n + 1);
	return vsnprintf(buf, (size_t)n + 1, fmt, args);
}

int side_kapi_sfi_sprintf(char *buf, const char *fmt, ...)
{
	va_list args, measure;
	int n;

	va_start(args, fmt);
	va_copy(measure, args);
	n = vsnprintf(NULL, 0, fmt, measure);
	va_end(measure);
	CHECK(buf, (unsigned long)n + 1);
	n = vsnprintf(buf, (size_t)n + 1, fmt, args);
	va_end(args);
	return n;
}

unsigned long side_kapi_sfi__copy_from_user(void *to, const void __user *from, unsigned long n)
{
	CHECK(to, n);
	return _copy_from_user(to, from, n);
}
