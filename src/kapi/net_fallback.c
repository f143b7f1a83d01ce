// SPDX-License-Identifier: GPL-2.0-only
/*
 * Weak stand-ins for library functions the network files need and that belong elsewhere in the layer (refcount
 * saturation of lib/refcount.c). A strong definition in another file replaces them at link time; they report
 * exactly as the kernel's do, so either one is correct.
 */
#include <linux/refcount.h>

#include "kapi.h"

/* Debian's refcount_t saturates instead of wrapping; each misuse is reported as the kernel's WARN would. */
void __weak refcount_warn_saturate(refcount_t *r, enum refcount_saturation_type t)
{
	static const char *const what[] = {
		[REFCOUNT_ADD_NOT_ZERO_OVF] = "saturated; leaking memory",
		[REFCOUNT_ADD_OVF] = "saturated; leaking memory",
		[REFCOUNT_ADD_UAF] = "addition on 0; use-after-free",
		[REFCOUNT_SUB_UAF] = "underflow; use-after-free",
		[REFCOUNT_DEC_LEAK] = "decrement hit 0; leaking memory",
	};

	refcount_set(r, REFCOUNT_SATURATED);
	WARN_ONCE(1, "refcount_t: %s.\n", (unsigned int)t < ARRAY_SIZE(what) ? what[t] : "?");
}
