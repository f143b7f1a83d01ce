// SPDX-License-Identifier: GPL-2.0-only
/*
 * Freestanding formatter with the semantics of Linux 6.1 lib/vsprintf.c; see format.h for the API.
 *
 * Written from the documented and observed behaviour of the 6.1 kernel, not copied from it. Constraints that shape
 * the code: no includes (kbuild and user-space tests both compile this file), no floating point (kernel flags),
 * no mutable static state (called concurrently), and no recursion: %pV nesting is handled with an explicit, bounded
 * stack of (format, va_list) frames instead of calling ourselves.
 *
 * %p extensions implemented as in 6.1:
 *   %pS %ps %pSR %psR %pB  symbol via hooks->symbol, "0x<hex>" when unknown
 *   %pF %pf                legacy aliases of %pS/%ps (see deviations)
 *   %pR %pr                struct resource, decoded / raw flags
 *   %ph %phC %phD %phN     hex buffer, length = field width (default 1, max 64)
 *   %pb %pbl               bitmap as hex chunks / range list, bit count = field width
 *   %pM %pMR %pMF %pm %pmR MAC address
 *   %pI4 %pi4 [hnbl]       IPv4;  %pI6 %pi6 %pI6c  IPv6 (c: RFC 5952 compression, ::ffff:a.b.c.d, ISATAP)
 *   %pIS %piS [pfsc hnbl]  struct sockaddr_in / sockaddr_in6 with port, flowinfo, scope
 *   %pE[achnops]           escaped buffer (string_escape_mem() rules), length = field width (default 1)
 *   %pU %pUb %pUB %pUl %pUL UUID / GUID
 *   %pV                    struct va_format, nested up to SIDE_FMT_MAX_NEST frames
 *   %pK                    zeros (kptr_restrict >= 1 for an unprivileged reader)
 *   %pNF                   netdev_features_t
 *   %pa %pap %pad          phys_addr_t / dma_addr_t by reference, "0x" + 16 hex digits
 *   %pe                    ERR_PTR as "-ENOMEM" etc. (6.1 errname() table), else "-<n>"; non-ERR_PTR like %p
 *   %pks %pus              string at a kernel / user pointer
 *   %px                    raw address;  %p  hashed (NULL and ERR_PTR values are printed raw, as 6.1 does)
 * Not implemented (the argument is consumed; NULL / bad pointers print "(null)"/"(efault)" as the kernel's
 * check_pointer() would, anything else prints the hashed pointer, the kernel's own fallback for unknown
 * extensions): %pd %pD (dentry/file), %pg (block device), %pG (flags), %pC (clock), %pO (device node),
 * %pfw (fwnode), %pt (time), %p4cc (fourcc).
 *
 * Deliberate deviations from 6.1:
 *   - %pF/%pf were removed from the kernel in 5.x (6.1 hashes %pF and uses %pf for %pfw); we keep them as symbol
 *     aliases because printing the symbol is strictly more useful. "%pfw" is still treated as fwnode.
 *   - length modifiers j and q are accepted (as 64-bit); 6.1 treats them as invalid and stops output.
 *   - widths and precisions are clamped to the kernel's bit-field limits instead of being truncated modulo 2^24/2^16.
 *   - no WARN_ONCE for invalid conversions or oversize buffers: the behaviour (stop / return 0) is kept.
 *   - %pK always prints zeros (no kptr_restrict sysctl); with hooks == NULL hashed pointers print
 *     "(____ptrval____)", which is what the kernel prints before its hash key is initialised.
 */
#include "format.h"

typedef __UINT8_TYPE__ u8;
typedef __UINT16_TYPE__ u16;
typedef __UINT32_TYPE__ u32;
typedef __UINT64_TYPE__ u64;
typedef __INT64_TYPE__ i64;
typedef __UINTPTR_TYPE__ uptr;

#define INT_MAX_ __INT_MAX__
#define PAGE_SIZE_ 4096UL
#define MAX_ERRNO_ 4095UL
/* The kernel keeps width and precision in 24- and 16-bit signed bit-fields. */
#define FIELD_WIDTH_MAX ((1 << 23) - 1)
#define PRECISION_MAX ((1 << 15) - 1)
/* Outer format plus nested %pV formats; dev_printk() itself adds one level, driver helpers often a second. */
#define SIDE_FMT_MAX_NEST 8
/* KSYM_SYMBOL_LEN for 6.1 (KSYM_NAME_LEN 512 plus offsets, module and build id) rounded up. */
#define SYM_BUF_LEN 704

/* Spec flags; the values of ZEROPAD and SMALL are used arithmetically like in the kernel (' ' + 16 == '0'). */
#define F_SIGN 1u
#define F_LEFT 2u
#define F_PLUS 4u
#define F_SPACE 8u
#define F_ZEROPAD 16u
#define F_SMALL 32u
#define F_SPECIAL 64u

struct spec {
  int width;     /* -1: none */
  int precision; /* -1: none */
  unsigned flags;
  unsigned base;
};

/* Output cursor. pos keeps counting past size so that the return value is the untruncated length. */
struct out {
  char* buf;
  side_fmt_size_t size;
  side_fmt_size_t pos;
};

static const char hex_upper[] = "0123456789ABCDEF";
static const char hex_lower[] = "0123456789abcdef";

static void put(struct out* o, char c) {
  if (o->pos < o->size) o->buf[o->pos] = c;
  o->pos++;
}

static void put_n(struct out* o, char c, int n) {
  while (n-- > 0) put(o, c);
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}
static int is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static int is_alnum(char c) {
  return is_digit(c) || is_alpha(c);
}

/* The kernel's ctype is Latin-1: 0xa0..0xff count as printable, 0x80..0x9f do not. */
static int k_isprint(unsigned char c) {
  return (c >= 0x20 && c <= 0x7e) || c >= 0xa0;
}

static struct spec spec_make(int width, int precision, unsigned flags, unsigned base) {
  struct spec s;
  s.width = width;
  s.precision = precision;
  s.flags = flags;
  s.base = base;
  return s;
}

/* The kernel's number(): sign, "0x"/"0" prefix, precision zeros and padding in exactly its order. */
static void number(struct out* o, u64 num, struct spec s) {
  char tmp[24]; /* 22 octal digits for 2^64-1 */
  char sign = 0;
  const char* digits = (s.flags & F_SMALL) ? hex_lower : hex_upper;
  int need_pfx = (s.flags & F_SPECIAL) && s.base != 10;
  int is_zero = num == 0;
  int fw = s.width;
  int precision = s.precision;
  int i = 0;

  if (s.flags & F_LEFT) s.flags &= ~F_ZEROPAD;
  if (s.flags & F_SIGN) {
    if ((i64)num < 0) {
      sign = '-';
      num = 0 - num; /* unsigned negation: well defined for INT64_MIN too */
      fw--;
    } else if (s.flags & F_PLUS) {
      sign = '+';
      fw--;
    } else if (s.flags & F_SPACE) {
      sign = ' ';
      fw--;
    }
  }
  if (need_pfx) {
    if (s.base == 16)
      fw -= 2;
    else if (!is_zero)
      fw--;
  }
  do {
    tmp[i++] = digits[num % s.base];
    num /= s.base;
  } while (num);

  /* Precision only ever adds zeros; "%2d" of 100 is "100". */
  if (i > precision) precision = i;
  fw -= precision;
  if (!(s.flags & (F_ZEROPAD | F_LEFT))) {
    put_n(o, ' ', fw);
    fw = fw > 0 ? 0 : fw;
  }
  if (sign) put(o, sign);
  if (need_pfx) {
    if (s.base == 16 || !is_zero) put(o, '0');
    if (s.base == 16) put(o, (s.flags & F_SMALL) ? 'x' : 'X');
  }
  if (!(s.flags & F_LEFT)) {
    put_n(o, (s.flags & F_ZEROPAD) ? '0' : ' ', fw);
    fw = fw > 0 ? 0 : fw;
  }
  put_n(o, '0', precision - i);
  while (--i >= 0) put(o, tmp[i]);
  put_n(o, ' ', fw);
}

/* "0x" followed by exactly 2*size hex digits (special_hex_number()). */
static void special_hex(struct out* o, u64 num, int size) {
  number(o, num, spec_make(2 + 2 * size, -1, F_SPECIAL | F_SMALL | F_ZEROPAD, 16));
}

static int bounded_len(const char* s, int precision) {
  int n = 0;
  /* precision -1 means unbounded, like the kernel's "while (lim--)" on -1 */
  while ((precision < 0 || n < precision) && s[n]) n++;
  return n;
}

/* string_nocheck() + widen_string(): precision limits, width pads with spaces only (never zeros). */
static void string_nocheck(struct out* o, const char* s, struct spec sp) {
  int len = bounded_len(s, sp.precision);
  int pad = sp.width > len ? sp.width - len : 0;
  int i;
  if (!(sp.flags & F_LEFT)) put_n(o, ' ', pad);
  for (i = 0; i < len; i++) put(o, s[i]);
  if (sp.flags & F_LEFT) put_n(o, ' ', pad);
}

/* error_string(): messages are cut at 16 characters unless a precision was given. */
static void error_string(struct out* o, const char* s, struct spec sp) {
  if (sp.precision == -1) sp.precision = 2 * (int)sizeof(void*);
  string_nocheck(o, s, sp);
}

static int is_err_value(const void* p) {
  return (uptr)p >= (uptr)-MAX_ERRNO_;
}

/* check_pointer(): NULL prints "(null)", the first page and ERR_PTR values "(efault)"; returns 1 if it printed. */
static int check_pointer(struct out* o, const void* p, struct spec sp) {
  if (!p) {
    error_string(o, "(null)", sp);
    return 1;
  }
  if ((uptr)p < PAGE_SIZE_ || is_err_value(p)) {
    error_string(o, "(efault)", sp);
    return 1;
  }
  return 0;
}

static void string(struct out* o, const char* s, struct spec sp) {
  if (!check_pointer(o, s, sp)) string_nocheck(o, s, sp);
}

/* pointer_string(): %px, and the last step of hashing. Default is 16 zero-padded lowercase digits. */
static void pointer_string(struct out* o, uptr v, struct spec sp) {
  sp.base = 16;
  sp.flags |= F_SMALL;
  if (sp.width == -1) {
    sp.width = 2 * (int)sizeof(void*);
    sp.flags |= F_ZEROPAD;
  }
  number(o, v, sp);
}

static u64 rotl64(u64 x, int b) {
  return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3) \
  do {                           \
    v0 += v1;                    \
    v1 = rotl64(v1, 13);         \
    v1 ^= v0;                    \
    v0 = rotl64(v0, 32);         \
    v2 += v3;                    \
    v3 = rotl64(v3, 16);         \
    v3 ^= v2;                    \
    v0 += v3;                    \
    v3 = rotl64(v3, 21);         \
    v3 ^= v0;                    \
    v2 += v1;                    \
    v1 = rotl64(v1, 17);         \
    v1 ^= v2;                    \
    v2 = rotl64(v2, 32);         \
  } while (0)

side_fmt_u64 side_fmt_siphash_1u64(side_fmt_u64 word, const side_fmt_u64 key[2]) {
  u64 v0 = 0x736f6d6570736575ULL ^ key[0];
  u64 v1 = 0x646f72616e646f6dULL ^ key[1];
  u64 v2 = 0x6c7967656e657261ULL ^ key[0];
  u64 v3 = 0x7465646279746573ULL ^ key[1];
  u64 b = (u64)8 << 56; /* message length in the top byte */
  int r;

  v3 ^= word;
  SIPROUND(v0, v1, v2, v3);
  SIPROUND(v0, v1, v2, v3);
  v0 ^= word;
  v3 ^= b;
  SIPROUND(v0, v1, v2, v3);
  SIPROUND(v0, v1, v2, v3);
  v0 ^= b;
  v2 ^= 0xff;
  for (r = 0; r < 4; r++) SIPROUND(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

/* ptr_to_id() via default_pointer(): NULL and ERR_PTRs raw, otherwise the low 32 bits of the keyed hash. */
static void default_pointer(struct out* o, const void* p, struct spec sp, const struct side_fmt_hooks* hooks) {
  if ((hooks && hooks->no_hash_pointers) || !p || is_err_value(p)) {
    pointer_string(o, (uptr)p, sp);
    return;
  }
  if (!hooks) {
    sp.width = 2 * (int)sizeof(void*);
    error_string(o, "(____ptrval____)", sp);
    return;
  }
  pointer_string(o, (uptr)(side_fmt_siphash_1u64((u64)(uptr)p, hooks->hash_key) & 0xffffffffULL), sp);
}

/* A bounded scratch writer for extensions that build a string first and then pad it like %s. */
static struct out scratch(char* b, side_fmt_size_t n) {
  struct out o;
  o.buf = b;
  o.size = n - 1; /* keep room for the NUL */
  o.pos = 0;
  return o;
}

static const char* scratch_str(struct out* o) {
  o->buf[o->pos < o->size ? o->pos : o->size] = '\0';
  return o->buf;
}

static void put_str(struct out* o, const char* s) {
  while (*s) put(o, *s++);
}

static void put_hex_byte(struct out* o, u8 b, int upper) {
  const char* d = upper ? hex_upper : hex_lower;
  put(o, d[b >> 4]);
  put(o, d[b & 15]);
}

static void put_dec(struct out* o, u64 v) {
  number(o, v, spec_make(-1, -1, 0, 10));
}

static void symbol_string(struct out* o, const void* p, struct spec sp, const char* fmt,
                          const struct side_fmt_hooks* hooks) {
  char sym[SYM_BUF_LEN];
  struct out so = scratch(sym, sizeof(sym));
  int mode = SIDE_FMT_SYM_OFFSET;
  int n = -1;

  if (*fmt == 'B')
    mode = SIDE_FMT_SYM_BACKTRACE;
  else if (*fmt == 's' || *fmt == 'f')
    mode = SIDE_FMT_SYM_NO_OFFSET;
  /* 'R' would apply __builtin_extract_return_addr(), which is the identity on x86. */
  if (hooks && hooks->symbol) n = hooks->symbol((unsigned long)(uptr)p, sym, sizeof(sym), mode);
  if (n < 0) {
    put_str(&so, "0x");
    number(&so, (uptr)p, spec_make(-1, -1, F_SMALL, 16));
  } else {
    so.pos = (side_fmt_size_t)n;
  }
  string_nocheck(o, scratch_str(&so), sp);
}

/* IORESOURCE_* values from include/linux/ioport.h. */
#define IORES_IO 0x00000100UL
#define IORES_MEM 0x00000200UL
#define IORES_IRQ 0x00000400UL
#define IORES_DMA 0x00000800UL
#define IORES_BUS 0x00001000UL
#define IORES_PREFETCH 0x00002000UL
#define IORES_MEM_64 0x00100000UL
#define IORES_WINDOW 0x00200000UL
#define IORES_DISABLED 0x10000000UL
#define IORES_UNSET 0x20000000UL

static void resource_string(struct out* o, const struct side_fmt_resource* res, struct spec sp, const char* fmt) {
  const struct spec io_spec = spec_make(6, -1, F_SPECIAL | F_SMALL | F_ZEROPAD, 16);
  const struct spec mem_spec = spec_make(10, -1, F_SPECIAL | F_SMALL | F_ZEROPAD, 16);
  const struct spec bus_spec = spec_make(2, -1, F_SMALL | F_ZEROPAD, 16);
  const struct spec dec_spec = spec_make(0, -1, 0, 10);
  char b[128];
  struct out so = scratch(b, sizeof(b));
  int decode = fmt[0] == 'R';
  struct spec num;

  if (check_pointer(o, res, sp)) return;
  put(&so, '[');
  if (res->flags & IORES_IO) {
    put_str(&so, "io  ");
    num = io_spec;
  } else if (res->flags & IORES_MEM) {
    put_str(&so, "mem ");
    num = mem_spec;
  } else if (res->flags & IORES_IRQ) {
    put_str(&so, "irq ");
    num = dec_spec;
  } else if (res->flags & IORES_DMA) {
    put_str(&so, "dma ");
    num = dec_spec;
  } else if (res->flags & IORES_BUS) {
    put_str(&so, "bus ");
    num = bus_spec;
  } else {
    put_str(&so, "??? ");
    num = mem_spec;
    decode = 0;
  }
  if (decode && (res->flags & IORES_UNSET)) {
    put_str(&so, "size ");
    number(&so, res->end - res->start + 1, num);
  } else {
    number(&so, res->start, num);
    if (res->start != res->end) {
      put(&so, '-');
      number(&so, res->end, num);
    }
  }
  if (decode) {
    if (res->flags & IORES_MEM_64) put_str(&so, " 64bit");
    if (res->flags & IORES_PREFETCH) put_str(&so, " pref");
    if (res->flags & IORES_WINDOW) put_str(&so, " window");
    if (res->flags & IORES_DISABLED) put_str(&so, " disabled");
  } else {
    put_str(&so, " flags ");
    number(&so, res->flags, spec_make(0, -1, F_SPECIAL | F_SMALL, 16));
  }
  put(&so, ']');
  string_nocheck(o, scratch_str(&so), sp);
}

static void hex_string(struct out* o, const u8* addr, struct spec sp, const char* fmt) {
  char sep;
  int len = 1, i;

  if (sp.width == 0) return; /* nothing to print, not even the pointer check */
  if (check_pointer(o, addr, sp)) return;
  switch (fmt[1]) {
    case 'C':
      sep = ':';
      break;
    case 'D':
      sep = '-';
      break;
    case 'N':
      sep = 0;
      break;
    default:
      sep = ' ';
      break;
  }
  if (sp.width > 0) len = sp.width < 64 ? sp.width : 64;
  for (i = 0; i < len; i++) {
    put_hex_byte(o, addr[i], 0);
    if (sep && i != len - 1) put(o, sep);
  }
}

#define BITS_PER_LONG_ (8 * (int)sizeof(unsigned long))

static int test_bit_(const unsigned long* map, int bit) {
  return (map[bit / BITS_PER_LONG_] >> (bit % BITS_PER_LONG_)) & 1;
}

static void bitmap_string(struct out* o, const unsigned long* map, struct spec sp) {
  int nr_bits = sp.width > 0 ? sp.width : 0;
  int chunksz, i, first = 1;

  if (check_pointer(o, map, sp)) return;
  chunksz = nr_bits & 31;
  if (chunksz == 0) chunksz = 32;
  /* Most significant 32-bit chunk first; the first chunk may be partial and is printed with just its digits. */
  for (i = ((nr_bits + 31) & ~31) - 32; i >= 0; i -= 32) {
    u32 mask = (u32)((1ULL << chunksz) - 1);
    u32 val = (u32)(map[i / BITS_PER_LONG_] >> (i % BITS_PER_LONG_)) & mask;
    if (!first) put(o, ',');
    first = 0;
    number(o, val, spec_make((chunksz + 3) / 4, -1, F_SMALL | F_ZEROPAD, 16));
    chunksz = 32;
  }
}

static void bitmap_list_string(struct out* o, const unsigned long* map, struct spec sp) {
  int nr_bits = sp.width > 0 ? sp.width : 0;
  int cur = 0, first = 1;

  if (check_pointer(o, map, sp)) return;
  while (cur < nr_bits) {
    int lo, hi;
    if (!test_bit_(map, cur)) {
      cur++;
      continue;
    }
    lo = hi = cur;
    while (hi + 1 < nr_bits && test_bit_(map, hi + 1)) hi++;
    if (!first) put(o, ',');
    first = 0;
    put_dec(o, (u64)lo);
    if (hi > lo) {
      put(o, '-');
      put_dec(o, (u64)hi);
    }
    cur = hi + 1;
  }
}

static void mac_address_string(struct out* o, const u8* addr, struct spec sp, const char* fmt) {
  char b[sizeof("xx:xx:xx:xx:xx:xx")];
  struct out so = scratch(b, sizeof(b));
  char sep = ':';
  int reversed = 0, i;

  if (check_pointer(o, addr, sp)) return;
  if (fmt[1] == 'F')
    sep = '-';
  else if (fmt[1] == 'R')
    reversed = 1;
  for (i = 0; i < 6; i++) {
    put_hex_byte(&so, addr[reversed ? 5 - i : i], 0);
    if (fmt[0] == 'M' && i != 5) put(&so, sep);
  }
  string_nocheck(o, scratch_str(&so), sp);
}

/* ip4_string(): order letter h (host = little endian here), l (little), n/b (network, default). */
static void ip4_string(struct out* o, const u8* addr, char kind, char order) {
  int index = 0, step = 1, i;
  if (order == 'h' || order == 'l') {
    index = 3;
    step = -1;
  }
  for (i = 0; i < 4; i++) {
    u8 v = addr[index];
    if (kind == 'i') /* %pi4: always three digits */
      number(o, v, spec_make(3, -1, F_ZEROPAD, 10));
    else
      put_dec(o, v);
    if (i < 3) put(o, '.');
    index += step;
  }
}

static u16 be16_at(const u8* p) {
  return (u16)((p[0] << 8) | p[1]);
}

static void ip6_compressed(struct out* o, const u8* a) {
  u8 zerolen[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int longest = 1, colonpos = -1, needcolon = 0;
  int range, i, j;
  int v4mapped = 1, isatap;

  for (i = 0; i < 10; i++)
    if (a[i]) v4mapped = 0;
  if (a[10] != 0xff || a[11] != 0xff) v4mapped = 0;
  /* ipv6_addr_is_isatap(): interface id 0000:5efe or 0200:5efe. */
  isatap = (a[8] | 0x02) == 0x02 && a[9] == 0 && a[10] == 0x5e && a[11] == 0xfe;
  range = (v4mapped || isatap) ? 6 : 8;

  for (i = 0; i < range; i++)
    for (j = i; j < range && be16_at(a + 2 * j) == 0; j++) zerolen[i]++;
  /* The first of several equally long runs wins; a single zero group is not compressed. */
  for (i = 0; i < range; i++) {
    if (zerolen[i] > longest) {
      longest = zerolen[i];
      colonpos = i;
    }
  }
  for (i = 0; i < range; i++) {
    u16 w;
    if (i == colonpos) {
      if (needcolon || i == 0) put(o, ':');
      put(o, ':');
      needcolon = 0;
      i += longest - 1;
      continue;
    }
    if (needcolon) put(o, ':');
    w = be16_at(a + 2 * i);
    number(o, w, spec_make(-1, -1, F_SMALL, 16));
    needcolon = 1;
  }
  if (v4mapped || isatap) {
    if (needcolon) put(o, ':');
    ip4_string(o, a + 12, 'I', 'n');
  }
}

static void ip6_full(struct out* o, const u8* a, char kind) {
  int i;
  for (i = 0; i < 8; i++) {
    put_hex_byte(o, a[2 * i], 0);
    put_hex_byte(o, a[2 * i + 1], 0);
    if (kind == 'I' && i != 7) put(o, ':');
  }
}

/* Offsets in struct sockaddr_in / sockaddr_in6 (uapi, identical on every Linux architecture). */
#define AF_INET_ 2
#define AF_INET6_ 10

static void ip_sockaddr(struct out* o, const u8* sa, struct spec sp, const char* fmt) {
  char b[sizeof("[xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:255.255.255.255]") + sizeof(":12345") + sizeof("/123456789") +
         sizeof("%1234567890") + 16];
  struct out so = scratch(b, sizeof(b));
  u16 family = (u16)(sa[0] | (sa[1] << 8)); /* host order, little endian */
  int have_p = 0, have_s = 0, have_f = 0, have_c = 0;
  char order = 'n';
  const char* f;

  for (f = fmt + 2; is_alpha(*f); f++) {
    switch (*f) {
      case 'p':
        have_p = 1;
        break;
      case 'f':
        have_f = 1;
        break;
      case 's':
        have_s = 1;
        break;
      case 'c':
        have_c = 1;
        break;
      case 'h':
      case 'l':
      case 'n':
      case 'b':
        order = *f;
        break;
    }
  }
  if (family == AF_INET_) {
    ip4_string(&so, sa + 4, fmt[0], order);
    if (have_p) {
      put(&so, ':');
      number(&so, be16_at(sa + 2), sp);
    }
  } else if (family == AF_INET6_) {
    int bracket = have_p || have_s || have_f;
    if (bracket) put(&so, '[');
    if (fmt[0] == 'I' && have_c)
      ip6_compressed(&so, sa + 8);
    else
      ip6_full(&so, sa + 8, fmt[0]);
    if (bracket) put(&so, ']');
    if (have_p) {
      put(&so, ':');
      number(&so, be16_at(sa + 2), sp);
    }
    if (have_f) {
      put(&so, '/');
      number(&so, ((u32)be16_at(sa + 4) << 16 | be16_at(sa + 6)) & 0x0fffffffu, sp);
    }
    if (have_s) {
      put(&so, '%');
      number(&so, (u32)sa[24] | (u32)sa[25] << 8 | (u32)sa[26] << 16 | (u32)sa[27] << 24, sp);
    }
  } else {
    error_string(o, "(einval)", sp);
    return;
  }
  string_nocheck(o, scratch_str(&so), sp);
}

static void ip_addr_string(struct out* o, const u8* p, struct spec sp, const char* fmt) {
  char b[sizeof("xxxx:xxxx:xxxx:xxxx:xxxx:xxxx:255.255.255.255") + 8];
  struct out so = scratch(b, sizeof(b));

  if (check_pointer(o, p, sp)) return;
  switch (fmt[1]) {
    case '6':
      if (fmt[0] == 'I' && fmt[2] == 'c')
        ip6_compressed(&so, p);
      else
        ip6_full(&so, p, fmt[0]);
      string_nocheck(o, scratch_str(&so), sp);
      return;
    case '4':
      ip4_string(&so, p, fmt[0], fmt[2]);
      string_nocheck(o, scratch_str(&so), sp);
      return;
    case 'S':
      ip_sockaddr(o, p, sp, fmt);
      return;
  }
  error_string(o, fmt[0] == 'i' ? "(%pi?)" : "(%pI?)", sp);
}

/* string_escape_mem() flags used by %pE. */
#define ESC_SPACE 0x01u
#define ESC_SPECIAL 0x02u
#define ESC_NULL 0x04u
#define ESC_OCTAL 0x08u
#define ESC_ANY (ESC_OCTAL | ESC_SPACE | ESC_SPECIAL | ESC_NULL)
#define ESC_NP 0x10u
#define ESC_HEX 0x20u

static void escaped_string(struct out* o, const u8* addr, struct spec sp, const char* fmt) {
  unsigned flags = 0;
  int len, i, more = 1;
  const char* f = fmt + 1;

  if (sp.width == 0) return;
  if (check_pointer(o, addr, sp)) return;
  while (more) {
    switch (*f++) {
      case 'a':
        flags |= ESC_ANY;
        break;
      case 'c':
        flags |= ESC_SPECIAL;
        break;
      case 'h':
        flags |= ESC_HEX;
        break;
      case 'n':
        flags |= ESC_NULL;
        break;
      case 'o':
        flags |= ESC_OCTAL;
        break;
      case 'p':
        flags |= ESC_NP;
        break;
      case 's':
        flags |= ESC_SPACE;
        break;
      default:
        more = 0;
        break;
    }
  }
  if (!flags) flags = ESC_ANY | ESC_NP;
  len = sp.width < 0 ? 1 : sp.width;
  for (i = 0; i < len; i++) {
    u8 c = addr[i];
    char to = 0;
    if ((flags & ESC_NP) && k_isprint(c)) {
      put(o, (char)c);
      continue;
    }
    if (flags & ESC_SPACE) {
      switch (c) {
        case '\n':
          to = 'n';
          break;
        case '\r':
          to = 'r';
          break;
        case '\t':
          to = 't';
          break;
        case '\v':
          to = 'v';
          break;
        case '\f':
          to = 'f';
          break;
      }
    }
    if (!to && (flags & ESC_SPECIAL)) {
      switch (c) {
        case '\\':
          to = '\\';
          break;
        case '\a':
          to = 'a';
          break;
        case 0x1b:
          to = 'e';
          break;
        case '"':
          to = '"';
          break;
      }
    }
    if (!to && (flags & ESC_NULL) && c == 0) to = '0';
    if (to) {
      put(o, '\\');
      put(o, to);
    } else if (flags & ESC_OCTAL) {
      put(o, '\\');
      put(o, (char)('0' + ((c >> 6) & 3)));
      put(o, (char)('0' + ((c >> 3) & 7)));
      put(o, (char)('0' + (c & 7)));
    } else if (flags & ESC_HEX) {
      put(o, '\\');
      put(o, 'x');
      put_hex_byte(o, c, 0);
    } else {
      put(o, (char)c);
    }
  }
}

static void uuid_string(struct out* o, const u8* addr, struct spec sp, const char* fmt) {
  static const u8 be_index[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  static const u8 le_index[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  char b[40];
  struct out so = scratch(b, sizeof(b));
  const u8* index = be_index;
  int upper = 0, i;

  if (check_pointer(o, addr, sp)) return;
  switch (fmt[1]) {
    case 'L':
      upper = 1;
      index = le_index;
      break;
    case 'l':
      index = le_index;
      break;
    case 'B':
      upper = 1;
      break;
  }
  for (i = 0; i < 16; i++) {
    put_hex_byte(&so, addr[index[i]], upper);
    if (i == 3 || i == 5 || i == 7 || i == 9) put(&so, '-');
  }
  string_nocheck(o, scratch_str(&so), sp);
}

static u64 load_u64(const void* p) {
  const u8* b = (const u8*)p;
  u64 v = 0;
  int i;
  for (i = 7; i >= 0; i--) v = (v << 8) | b[i]; /* x86_64 is little endian */
  return v;
}

/* lib/errname.c of 6.1 as seen on x86 (asm-generic errno values); aliases print their canonical name. */
static const char* const errnames_0[] = {
    [1] = "-EPERM",
    [2] = "-ENOENT",
    [3] = "-ESRCH",
    [4] = "-EINTR",
    [5] = "-EIO",
    [6] = "-ENXIO",
    [7] = "-E2BIG",
    [8] = "-ENOEXEC",
    [9] = "-EBADF",
    [10] = "-ECHILD",
    [11] = "-EAGAIN",
    [12] = "-ENOMEM",
    [13] = "-EACCES",
    [14] = "-EFAULT",
    [15] = "-ENOTBLK",
    [16] = "-EBUSY",
    [17] = "-EEXIST",
    [18] = "-EXDEV",
    [19] = "-ENODEV",
    [20] = "-ENOTDIR",
    [21] = "-EISDIR",
    [22] = "-EINVAL",
    [23] = "-ENFILE",
    [24] = "-EMFILE",
    [25] = "-ENOTTY",
    [26] = "-ETXTBSY",
    [27] = "-EFBIG",
    [28] = "-ENOSPC",
    [29] = "-ESPIPE",
    [30] = "-EROFS",
    [31] = "-EMLINK",
    [32] = "-EPIPE",
    [33] = "-EDOM",
    [34] = "-ERANGE",
    [35] = "-EDEADLK",
    [36] = "-ENAMETOOLONG",
    [37] = "-ENOLCK",
    [38] = "-ENOSYS",
    [39] = "-ENOTEMPTY",
    [40] = "-ELOOP",
    [42] = "-ENOMSG",
    [43] = "-EIDRM",
    [44] = "-ECHRNG",
    [45] = "-EL2NSYNC",
    [46] = "-EL3HLT",
    [47] = "-EL3RST",
    [48] = "-ELNRNG",
    [49] = "-EUNATCH",
    [50] = "-ENOCSI",
    [51] = "-EL2HLT",
    [52] = "-EBADE",
    [53] = "-EBADR",
    [54] = "-EXFULL",
    [55] = "-ENOANO",
    [56] = "-EBADRQC",
    [57] = "-EBADSLT",
    [59] = "-EBFONT",
    [60] = "-ENOSTR",
    [61] = "-ENODATA",
    [62] = "-ETIME",
    [63] = "-ENOSR",
    [64] = "-ENONET",
    [65] = "-ENOPKG",
    [66] = "-EREMOTE",
    [67] = "-ENOLINK",
    [68] = "-EADV",
    [69] = "-ESRMNT",
    [70] = "-ECOMM",
    [71] = "-EPROTO",
    [72] = "-EMULTIHOP",
    [73] = "-EDOTDOT",
    [74] = "-EBADMSG",
    [75] = "-EOVERFLOW",
    [76] = "-ENOTUNIQ",
    [77] = "-EBADFD",
    [78] = "-EREMCHG",
    [79] = "-ELIBACC",
    [80] = "-ELIBBAD",
    [81] = "-ELIBSCN",
    [82] = "-ELIBMAX",
    [83] = "-ELIBEXEC",
    [84] = "-EILSEQ",
    [85] = "-ERESTART",
    [86] = "-ESTRPIPE",
    [87] = "-EUSERS",
    [88] = "-ENOTSOCK",
    [89] = "-EDESTADDRREQ",
    [90] = "-EMSGSIZE",
    [91] = "-EPROTOTYPE",
    [92] = "-ENOPROTOOPT",
    [93] = "-EPROTONOSUPPORT",
    [94] = "-ESOCKTNOSUPPORT",
    [95] = "-EOPNOTSUPP",
    [96] = "-EPFNOSUPPORT",
    [97] = "-EAFNOSUPPORT",
    [98] = "-EADDRINUSE",
    [99] = "-EADDRNOTAVAIL",
    [100] = "-ENETDOWN",
    [101] = "-ENETUNREACH",
    [102] = "-ENETRESET",
    [103] = "-ECONNABORTED",
    [104] = "-ECONNRESET",
    [105] = "-ENOBUFS",
    [106] = "-EISCONN",
    [107] = "-ENOTCONN",
    [108] = "-ESHUTDOWN",
    [109] = "-ETOOMANYREFS",
    [110] = "-ETIMEDOUT",
    [111] = "-ECONNREFUSED",
    [112] = "-EHOSTDOWN",
    [113] = "-EHOSTUNREACH",
    [114] = "-EALREADY",
    [115] = "-EINPROGRESS",
    [116] = "-ESTALE",
    [117] = "-EUCLEAN",
    [118] = "-ENOTNAM",
    [119] = "-ENAVAIL",
    [120] = "-EISNAM",
    [121] = "-EREMOTEIO",
    [122] = "-EDQUOT",
    [123] = "-ENOMEDIUM",
    [124] = "-EMEDIUMTYPE",
    [125] = "-ECANCELED",
    [126] = "-ENOKEY",
    [127] = "-EKEYEXPIRED",
    [128] = "-EKEYREVOKED",
    [129] = "-EKEYREJECTED",
    [130] = "-EOWNERDEAD",
    [131] = "-ENOTRECOVERABLE",
    [132] = "-ERFKILL",
    [133] = "-EHWPOISON",
};

/* Kernel-internal codes from include/linux/errno.h, indexed from 512. */
static const char* const errnames_512[] = {
    [0] = "-ERESTARTSYS",
    [1] = "-ERESTARTNOINTR",
    [2] = "-ERESTARTNOHAND",
    [3] = "-ENOIOCTLCMD",
    [4] = "-ERESTART_RESTARTBLOCK",
    [5] = "-EPROBE_DEFER",
    [6] = "-EOPENSTALE",
    [7] = "-ENOPARAM",
    [9] = "-EBADHANDLE",
    [10] = "-ENOTSYNC",
    [11] = "-EBADCOOKIE",
    [12] = "-ENOTSUPP",
    [13] = "-ETOOSMALL",
    [14] = "-ESERVERFAULT",
    [15] = "-EBADTYPE",
    [16] = "-EJUKEBOX",
    [17] = "-EIOCBQUEUED",
    [18] = "-ERECALLCONFLICT",
};

static const char* errname(int err) {
  unsigned e = err < 0 ? 0u - (unsigned)err : (unsigned)err;
  if (e < sizeof(errnames_0) / sizeof(errnames_0[0])) return errnames_0[e];
  if (e >= 512 && e - 512 < sizeof(errnames_512) / sizeof(errnames_512[0])) return errnames_512[e - 512];
  return 0;
}

static void err_ptr(struct out* o, const void* p, struct spec sp) {
  int err = (int)(i64)(uptr)p;
  const char* name = errname(err);
  if (name) {
    string_nocheck(o, name, sp);
    return;
  }
  sp.flags |= F_SIGN;
  sp.base = 10;
  number(o, (u64)(i64)err, sp);
}

/*
 * pointer(): fmt points just after the 'p'. Returns a struct va_format pointer when the caller must descend into
 * %pV (it owns the frame stack), NULL otherwise.
 */
static const struct side_fmt_va_format* pointer(struct out* o, const char* fmt, void* p, struct spec sp,
                                                const struct side_fmt_hooks* hooks) {
  switch (*fmt) {
    case 'f':
      if (fmt[1] == 'w') break;         /* %pfw: fwnode, not implemented */
      __attribute__((__fallthrough__)); /* legacy alias of %ps */
    case 'F':
    case 'S':
    case 's':
    case 'B':
      symbol_string(o, p, sp, fmt, hooks);
      return 0;
    case 'R':
    case 'r':
      resource_string(o, (const struct side_fmt_resource*)p, sp, fmt);
      return 0;
    case 'h':
      hex_string(o, (const u8*)p, sp, fmt);
      return 0;
    case 'b':
      if (fmt[1] == 'l')
        bitmap_list_string(o, (const unsigned long*)p, sp);
      else
        bitmap_string(o, (const unsigned long*)p, sp);
      return 0;
    case 'M':
    case 'm':
      mac_address_string(o, (const u8*)p, sp, fmt);
      return 0;
    case 'I':
    case 'i':
      ip_addr_string(o, (const u8*)p, sp, fmt);
      return 0;
    case 'E':
      escaped_string(o, (const u8*)p, sp, fmt);
      return 0;
    case 'U':
      uuid_string(o, (const u8*)p, sp, fmt);
      return 0;
    case 'V':
      if (check_pointer(o, p, sp)) return 0;
      return (const struct side_fmt_va_format*)p;
    case 'K':
      pointer_string(o, 0, sp);
      return 0;
    case 'N':
      if (check_pointer(o, p, sp)) return 0;
      if (fmt[1] == 'F')
        special_hex(o, load_u64(p), 8);
      else
        error_string(o, "(%pN?)", sp);
      return 0;
    case 'a':
      /* phys_addr_t and dma_addr_t are both 64-bit on x86_64 */
      if (!check_pointer(o, p, sp)) special_hex(o, load_u64(p), 8);
      return 0;
    case 'e':
      if (is_err_value(p))
        err_ptr(o, p, sp);
      else
        default_pointer(o, p, sp, hooks);
      return 0;
    case 'k':
    case 'u':
      if (fmt[1] == 's')
        string(o, (const char*)p, sp);
      else
        error_string(o, "(einval)", sp);
      return 0;
    case 'x':
      pointer_string(o, (uptr)p, sp);
      return 0;
    case 'd':
    case 'D':
    case 'g':
    case 'G':
    case 'C':
    case 'O':
    case 't':
    case '4':
      break;
    default:
      /* unknown extension: the kernel hashes, without a pointer check */
      default_pointer(o, p, sp, hooks);
      return 0;
  }
  /* Known to 6.1 but not implemented here: validate like the kernel, then fall back to the hash. */
  if (!check_pointer(o, p, sp)) default_pointer(o, p, sp, hooks);
  return 0;
}

struct frame {
  const char* fmt;
  side_fmt_va_list ap;
};

/* Parse a decimal number as skip_atoi() does, saturating instead of overflowing. */
static int parse_int(const char** s) {
  int v = 0;
  while (is_digit(**s)) {
    if (v < 100000000) v = v * 10 + (**s - '0');
    (*s)++;
  }
  return v;
}

static int clamp_int(int v, int lo, int hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

int side_fmt_vsnprintf(char* buf, side_fmt_size_t size, const char* fmt, side_fmt_va_list args,
                       const struct side_fmt_hooks* hooks) {
  struct frame st[SIDE_FMT_MAX_NEST];
  struct out o;
  int depth = 0;

  /* The kernel WARNs and returns 0 for sizes that cannot be real buffers. */
  if (size > (side_fmt_size_t)INT_MAX_) return 0;
  o.buf = buf;
  o.size = size;
  o.pos = 0;
  st[0].fmt = fmt;
  __builtin_va_copy(st[0].ap, args);

  for (;;) {
    struct frame* f = &st[depth];
    const char* p = f->fmt;
    struct spec sp;
    char q = 0;
    int invalid = 0;

    if (*p == '\0') {
      if (depth == 0) break;
      __builtin_va_end(f->ap);
      depth--;
      continue;
    }
    if (*p != '%') {
      put(&o, *p);
      f->fmt = p + 1;
      continue;
    }

    sp.flags = 0;
    for (;;) {
      char c = *++p;
      if (c == '-')
        sp.flags |= F_LEFT;
      else if (c == '+')
        sp.flags |= F_PLUS;
      else if (c == ' ')
        sp.flags |= F_SPACE;
      else if (c == '#')
        sp.flags |= F_SPECIAL;
      else if (c == '0')
        sp.flags |= F_ZEROPAD;
      else
        break;
    }
    sp.width = -1;
    if (is_digit(*p)) {
      sp.width = clamp_int(parse_int(&p), 0, FIELD_WIDTH_MAX);
    } else if (*p == '*') {
      int w = __builtin_va_arg(f->ap, int);
      w = clamp_int(w, -FIELD_WIDTH_MAX, FIELD_WIDTH_MAX);
      if (w < 0) { /* negative "*" width means left alignment */
        w = -w;
        sp.flags |= F_LEFT;
      }
      sp.width = w;
      p++;
    }
    sp.precision = -1;
    if (*p == '.') {
      p++;
      if (is_digit(*p)) {
        sp.precision = clamp_int(parse_int(&p), 0, PRECISION_MAX);
      } else if (*p == '*') {
        int pr = __builtin_va_arg(f->ap, int);
        /* Unlike ISO C, the kernel turns a negative "*" precision into 0. */
        sp.precision = clamp_int(pr, 0, PRECISION_MAX);
        p++;
      }
    }
    if (*p == 'h' || *p == 'l' || *p == 'L' || *p == 'z' || *p == 't' || *p == 'j' || *p == 'q') {
      q = *p++;
      if (q == *p && (q == 'l' || q == 'h')) {
        q = q == 'l' ? 'L' : 'H';
        p++;
      }
      if (q == 'j' || q == 'q') q = 'L';
    }
    sp.base = 10;
    switch (*p) {
      case 'c': {
        char c;
        if (!(sp.flags & F_LEFT))
          while (--sp.width > 0) put(&o, ' ');
        c = (char)(unsigned char)__builtin_va_arg(f->ap, int);
        put(&o, c);
        while (--sp.width > 0) put(&o, ' ');
        f->fmt = p + 1;
        continue;
      }
      case 's':
        string(&o, __builtin_va_arg(f->ap, const char*), sp);
        f->fmt = p + 1;
        continue;
      case 'p': {
        void* ptr = __builtin_va_arg(f->ap, void*);
        const char* ext = p + 1;
        const struct side_fmt_va_format* vf = pointer(&o, ext, ptr, sp, hooks);
        while (is_alnum(*ext)) ext++;
        f->fmt = ext;
        if (vf) {
          if (depth + 1 < SIDE_FMT_MAX_NEST) {
            depth++;
            st[depth].fmt = vf->fmt;
            __builtin_va_copy(st[depth].ap, *vf->va);
          } else {
            error_string(&o, "(%pV?)", sp); /* bounded stack; the kernel would recurse on */
          }
        }
        continue;
      }
      case '%':
        put(&o, '%');
        f->fmt = p + 1;
        continue;
      case 'o':
        sp.base = 8;
        break;
      case 'x':
        sp.flags |= F_SMALL;
        sp.base = 16;
        break;
      case 'X':
        sp.base = 16;
        break;
      case 'd':
      case 'i':
        sp.flags |= F_SIGN;
        break;
      case 'u':
        break;
      default:
        /* %n and anything unknown: the kernel stops here, since the arguments can no longer be trusted. */
        invalid = 1;
        break;
    }
    if (invalid) {
      if (depth == 0) break;
      /* Only the nested vsnprintf() stops; the outer format continues after its %pV. */
      __builtin_va_end(f->ap);
      depth--;
      continue;
    }
    {
      u64 num;
      int is_signed = (sp.flags & F_SIGN) != 0;
      switch (q) {
        case 'L':
        case 'l':
        case 'z':
        case 't':
          /* long, long long, size_t, ssize_t and ptrdiff_t are all 64-bit here */
          num = __builtin_va_arg(f->ap, u64);
          break;
        case 'H':
          num = is_signed ? (u64)(i64)(signed char)__builtin_va_arg(f->ap, int)
                          : (u64)(unsigned char)__builtin_va_arg(f->ap, int);
          break;
        case 'h':
          num = is_signed ? (u64)(i64)(short)__builtin_va_arg(f->ap, int)
                          : (u64)(unsigned short)__builtin_va_arg(f->ap, int);
          break;
        default:
          num = is_signed ? (u64)(i64) __builtin_va_arg(f->ap, int) : (u64) __builtin_va_arg(f->ap, unsigned int);
          break;
      }
      number(&o, num, sp);
      f->fmt = p + 1;
    }
  }

  while (depth >= 0) {
    __builtin_va_end(st[depth].ap);
    depth--;
  }
  if (size > 0) buf[o.pos < size ? o.pos : size - 1] = '\0';
  return (int)o.pos;
}

int side_fmt_vscnprintf(char* buf, side_fmt_size_t size, const char* fmt, side_fmt_va_list args,
                        const struct side_fmt_hooks* hooks) {
  int i = side_fmt_vsnprintf(buf, size, fmt, args, hooks);
  if ((side_fmt_size_t)i < size) return i;
  return size ? (int)(size - 1) : 0;
}

int side_fmt_snprintf(char* buf, side_fmt_size_t size, const struct side_fmt_hooks* hooks, const char* fmt, ...) {
  side_fmt_va_list ap;
  int r;
  __builtin_va_start(ap, fmt);
  r = side_fmt_vsnprintf(buf, size, fmt, ap, hooks);
  __builtin_va_end(ap);
  return r;
}

int side_fmt_scnprintf(char* buf, side_fmt_size_t size, const struct side_fmt_hooks* hooks, const char* fmt, ...) {
  side_fmt_va_list ap;
  int r;
  __builtin_va_start(ap, fmt);
  r = side_fmt_vscnprintf(buf, size, fmt, ap, hooks);
  __builtin_va_end(ap);
  return r;
}

int side_fmt_printk_level(const char* fmt, int* level, const char** rest) {
  int lvl = -1, flags = 0;
  while (fmt[0] == '\001' && ((fmt[1] >= '0' && fmt[1] <= '7') || fmt[1] == 'c')) {
    if (fmt[1] == 'c')
      flags |= SIDE_FMT_PRINTK_CONT;
    else if (lvl == -1) /* the first explicit level wins, as in printk_parse_prefix() */
      lvl = fmt[1] - '0';
    fmt += 2;
  }
  if (level) *level = lvl;
  if (rest) *rest = fmt;
  return flags;
}
