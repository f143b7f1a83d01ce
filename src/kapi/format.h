// SPDX-License-Identifier: GPL-2.0-only
/*
 * Freestanding formatter with the semantics of Linux 6.1 lib/vsprintf.c.
 *
 * This header (and format.c) include nothing else: format.c is compiled both by kbuild with kernel flags, where libc
 * headers are unavailable and kernel headers would clash with ours, and into ordinary user-space test binaries. All
 * types therefore come from compiler builtins. Every external name carries the side_fmt_ prefix because the
 * kernel-API layer defines the kernel names (vsnprintf, snprintf, ...) as thin wrappers around these.
 *
 * Behaviour in one paragraph (details and deliberate deviations are listed in format.c):
 * C99 vsnprintf semantics for the return value (length that would have been written, excluding the NUL), output
 * always NUL-terminated when size > 0, size 0 with buf NULL allowed, size > INT_MAX returns 0 and writes nothing
 * (the kernel WARNs and does the same). Integer, string and character conversions follow the kernel's number(),
 * string() and %c code, including where the kernel differs from ISO C (e.g. "%.0d" of 0 prints "0", "%#x" of 0
 * prints "0x0", the '0' flag is honoured together with a precision, a negative "*" precision means 0). An invalid
 * conversion (including %n) ends the output there, as in the kernel. %p and its extensions are described in format.c.
 */
#ifndef SIDE_KAPI_FORMAT_H
#define SIDE_KAPI_FORMAT_H

#ifdef __cplusplus
extern "C" {
#endif

typedef __SIZE_TYPE__ side_fmt_size_t;
typedef __UINT64_TYPE__ side_fmt_u64;
typedef __builtin_va_list side_fmt_va_list;

/* Third argument of side_fmt_hooks.symbol: which kallsyms printer the kernel would have used. */
enum side_fmt_symbol_mode {
  SIDE_FMT_SYM_NO_OFFSET = 0, /* %ps: sprint_symbol_no_offset(): "name [module]" */
  SIDE_FMT_SYM_OFFSET = 1,    /* %pS, %pSR: sprint_symbol(): "name+0xoff/0xsize [module]" */
  SIDE_FMT_SYM_BACKTRACE = 2, /* %pB: sprint_backtrace(): look up addr-1, print offset+1 */
};

/*
 * Environment the formatter needs from its caller. Read-only; the formatter keeps no state of its own, so one
 * hooks object may be shared by any number of threads.
 */
struct side_fmt_hooks {
  /*
   * Symbolise addr into buf (len bytes including the NUL) the way the kernel's sprint_symbol() family would, mode
   * being an enum side_fmt_symbol_mode (nonzero means "with offset"). Returns the string length, or -1 if addr is
   * unknown, in which case the formatter prints "0x<hex addr>" as kallsyms does for an unknown address. May be NULL.
   */
  int (*symbol)(unsigned long addr, char* buf, side_fmt_size_t len, int mode);
  /*
   * SipHash-2-4 key used to hash plain %p (and unimplemented extensions) like the kernel's ptr_to_id(): the
   * printed value is the low 32 bits of siphash_1u64(pointer, key) as 16 hex digits, so it is stable for one key
   * and independent of the call site. Choose it randomly once per process to avoid leaking addresses.
   */
  side_fmt_u64 hash_key[2];
  /* Nonzero prints raw addresses instead of hashes, like the kernel's no_hash_pointers boot option. */
  int no_hash_pointers;
};

/* The kernel's struct va_format, target of %pV. */
struct side_fmt_va_format {
  const char* fmt;
  side_fmt_va_list* va;
};

/* Leading fields of the kernel's struct resource on x86_64 (resource_size_t is 64-bit there), target of %pR/%pr. */
struct side_fmt_resource {
  side_fmt_u64 start;
  side_fmt_u64 end;
  const char* name;
  unsigned long flags;
};

/*
 * Kernel vsnprintf(). hooks may be NULL: then %pS prints raw addresses and hashed pointers print
 * "(____ptrval____)" as the kernel does before its hash key is ready.
 */
int side_fmt_vsnprintf(char* buf, side_fmt_size_t size, const char* fmt, side_fmt_va_list args,
                       const struct side_fmt_hooks* hooks);

/* Kernel vscnprintf(): characters actually stored, excluding the NUL; 0 when size is 0. */
int side_fmt_vscnprintf(char* buf, side_fmt_size_t size, const char* fmt, side_fmt_va_list args,
                        const struct side_fmt_hooks* hooks);

/* Variadic convenience forms of the two above. */
int side_fmt_snprintf(char* buf, side_fmt_size_t size, const struct side_fmt_hooks* hooks, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
int side_fmt_scnprintf(char* buf, side_fmt_size_t size, const struct side_fmt_hooks* hooks, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Flag returned by side_fmt_printk_level() when a KERN_CONT ("\001c") prefix was present. */
#define SIDE_FMT_PRINTK_CONT 1

/*
 * Parse the printk header of fmt as 6.1's printk_parse_prefix() does with printk_get_level(): any sequence of
 * KERN_SOH ("\001") followed by '0'..'7' or 'c'. *level (if level is not NULL) receives the first level digit, or -1
 * (LOGLEVEL_DEFAULT) if there is none; *rest (if not NULL) points after the last prefix. Returns
 * SIDE_FMT_PRINTK_CONT if one of the prefixes was KERN_CONT, else 0. Note: 6.1 defines KERN_DEFAULT as "", so
 * "\001d" is not a prefix there and is left in the text, as the 6.1 kernel would.
 */
int side_fmt_printk_level(const char* fmt, int* level, const char** rest);

/* SipHash-2-4 of one 64-bit word, as the kernel's siphash_1u64(); exposed for tests and for callers' own hashing. */
side_fmt_u64 side_fmt_siphash_1u64(side_fmt_u64 word, const side_fmt_u64 key[2]);

#ifdef __cplusplus
}
#endif

#endif /* SIDE_KAPI_FORMAT_H */
