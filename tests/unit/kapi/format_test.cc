// SPDX-License-Identifier: GPL-2.0-only
// Kernel-specific behaviour of the formatter: the corners where Linux 6.1 differs from ISO C, and the %p
// extensions, checked against the strings the 6.1 kernel prints.
#include "format.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdarg>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr side_fmt_u64 kKey0 = 0x0706050403020100ULL, kKey1 = 0x0f0e0d0c0b0a0908ULL;

int last_mode = -1;
unsigned long last_addr = 0;

// Pretend kallsyms: knows one function at 0xffffffffc0001000, size 0x200, in module e1000.
int FakeSymbol(unsigned long addr, char* buf, side_fmt_size_t len, int mode) {
  last_mode = mode;
  last_addr = addr;
  unsigned long base = 0xffffffffc0001000UL;
  unsigned long lookup = mode == SIDE_FMT_SYM_BACKTRACE ? addr - 1 : addr;
  if (lookup < base || lookup >= base + 0x200) return -1;
  unsigned long off = lookup - base + (mode == SIDE_FMT_SYM_BACKTRACE ? 1 : 0);
  if (mode == SIDE_FMT_SYM_NO_OFFSET) return snprintf(buf, len, "e1000_probe [e1000]");
  return snprintf(buf, len, "e1000_probe+0x%lx/0x200 [e1000]", off);
}

const side_fmt_hooks kHooks = {FakeSymbol, {kKey0, kKey1}, 0};

// Formats with the kernel formatter, checks the return value against the produced length, returns the text.
// Deliberately not marked as printf-like: kernel formats are not ISO C formats.
std::string K(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = side_fmt_vsnprintf(buf, sizeof buf, fmt, ap, &kHooks);
  va_end(ap);
  EXPECT_EQ((size_t)n, std::strlen(buf)) << fmt;
  return buf;
}

std::string KH(const side_fmt_hooks* hooks, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  side_fmt_vsnprintf(buf, sizeof buf, fmt, ap, hooks);
  va_end(ap);
  return buf;
}

void* ErrPtr(long err) {
  return reinterpret_cast<void*>(err);
}

TEST(FormatKernelQuirks, NumbersDifferFromIsoC) {
  EXPECT_EQ(K("%.0d|%.d|%.0x", 0, 0, 0u), "0|0|0");  // kernel always prints a digit
  EXPECT_EQ(K("%#x|%#X|%#o", 0u, 0u, 0u), "0x0|0X0|0");
  EXPECT_EQ(K("%08.3d|%-08.3d|", 5, 5), "00000005|005     |");  // '0' survives a precision
  EXPECT_EQ(K("%#.5o", 8u), "000010");                          // prefix plus precision zeros
  EXPECT_EQ(K("%.*d", -1, 5), "5");
  EXPECT_EQ(K("%#08x|%#8x|%#-8x|", 0x1fu, 0x1fu, 0x1fu), "0x00001f|    0x1f|0x1f    |");
  EXPECT_EQ(K("%+u|% u|%+x", 5u, 5u, 5u), "5|5|5");
  EXPECT_EQ(K("%hhd|%hhu|%hd|%hu", 300, 300, 70000, 70000), "44|44|4464|4464");
  EXPECT_EQ(K("%lld|%llu", (long long)INT64_MIN, (unsigned long long)UINT64_MAX),
            "-9223372036854775808|18446744073709551615");
  EXPECT_EQ(K("%zd|%zu|%td|%Lu|%ld|%lx", (ssize_t)-1, (size_t)-1, (ptrdiff_t)-2, 7ULL, -3L, 0xabcUL),
            "-1|18446744073709551615|-2|7|-3|abc");
  // j and q are extensions of ours (6.1 stops at them); both take 64 bits.
  EXPECT_EQ(K("%jd|%qu", (intmax_t)-5, 6ULL), "-5|6");
}

TEST(FormatKernelQuirks, StringsAndChars) {
  EXPECT_EQ(K("[%.*s]", -1, "abc"), "[]");  // negative '*' precision is 0 in the kernel
  EXPECT_EQ(K("[%.s]", "abc"), "[abc]");    // '.' without digits means no precision
  EXPECT_EQ(K("[%05s][%05c][%-3c]", "ab", 'x', 'y'), "[   ab][    x][y  ]");
  EXPECT_EQ(K("[%5%]"), "[%]");
  EXPECT_EQ(K("%s", (const char*)nullptr), "(null)");
  EXPECT_EQ(K("[%10s][%-8s]", (const char*)nullptr, (const char*)nullptr), "[    (null)][(null)  ]");
  EXPECT_EQ(K("%.3s", (const char*)nullptr), "(nu");
  EXPECT_EQ(K("%s|%s", (const char*)0x10, (const char*)ErrPtr(-22)), "(efault)|(efault)");
  EXPECT_EQ(K("%s", (const char*)0xfff), "(efault)");
}

TEST(FormatKernelQuirks, InvalidConversionStopsOutput) {
  int x = 0;
  EXPECT_EQ(K("abc%ndef", &x), "abc");
  EXPECT_EQ(x, 0);  // %n never writes
  EXPECT_EQ(K("a%yb%d", 1), "a");
  EXPECT_EQ(K("tail%"), "tail");
  EXPECT_EQ(K("%Zd", 1), "");
  EXPECT_EQ(K("%LLd", 1LL), "");
}

TEST(FormatBasics, ReturnValueAndTermination) {
  char buf[8];
  std::memset(buf, 'X', sizeof buf);
  EXPECT_EQ(side_fmt_snprintf(buf, 4, &kHooks, "%d", 123456), 6);
  EXPECT_STREQ(buf, "123");
  EXPECT_EQ(buf[4], 'X');
  EXPECT_EQ(side_fmt_snprintf(nullptr, 0, &kHooks, "%s-%d", "abc", 42), 6);
  std::memset(buf, 'X', sizeof buf);
  EXPECT_EQ(side_fmt_snprintf(buf, 1, &kHooks, "hello"), 5);
  EXPECT_EQ(buf[0], '\0');
  EXPECT_EQ(buf[1], 'X');
  // Sizes above INT_MAX are rejected like the kernel does (return 0, nothing written).
  std::memset(buf, 'X', sizeof buf);
  EXPECT_EQ(side_fmt_snprintf(buf, (side_fmt_size_t)INT32_MAX + 1, &kHooks, "hello"), 0);
  EXPECT_EQ(buf[0], 'X');
}

TEST(FormatBasics, Vscnprintf) {
  char buf[16];
  EXPECT_EQ(side_fmt_scnprintf(buf, 5, &kHooks, "hello world"), 4);
  EXPECT_STREQ(buf, "hell");
  EXPECT_EQ(side_fmt_scnprintf(buf, sizeof buf, &kHooks, "hi %d", 7), 4);
  EXPECT_EQ(side_fmt_scnprintf(nullptr, 0, &kHooks, "hello"), 0);
  EXPECT_EQ(side_fmt_scnprintf(buf, 6, &kHooks, "hello"), 5);
}

TEST(FormatPointer, RawHashedRestricted) {
  void* p = reinterpret_cast<void*>(0xffff888012345678UL);
  EXPECT_EQ(K("%px", p), "ffff888012345678");
  EXPECT_EQ(K("%px", (void*)0x1234), "0000000000001234");
  EXPECT_EQ(K("[%20px]", (void*)0x1234), "[                1234]");
  EXPECT_EQ(K("%pK", p), "0000000000000000");
  // Plain %p: low 32 bits of siphash_1u64(ptr, key); the SipHash-2-4 reference vector for key 00..0f and
  // message 00..07 is 0x93f5f5799a932462.
  EXPECT_EQ(side_fmt_siphash_1u64(kKey0, kHooks.hash_key), 0x93f5f5799a932462ULL);
  EXPECT_EQ(K("%p", (void*)kKey0), "000000009a932462");
  EXPECT_EQ(K("%p", p), K("%p", p));  // stable
  EXPECT_NE(K("%p", p), K("%p", (void*)0xffff888012345679UL));
  EXPECT_EQ(K("%p|%p", nullptr, ErrPtr(-12)), "0000000000000000|fffffffffffffff4");  // not hashed
  EXPECT_EQ(KH(nullptr, "%p", p), "(____ptrval____)");
  side_fmt_hooks raw = kHooks;
  raw.no_hash_pointers = 1;
  EXPECT_EQ(KH(&raw, "%p", p), "ffff888012345678");
  // Unknown extension letters consume the pointer and print the hash, like the kernel.
  EXPECT_EQ(K("%pZ!", (void*)kKey0), "000000009a932462!");
  EXPECT_EQ(K("%pZzz9 %d", (void*)kKey0, 5), "000000009a932462 5");  // all alnum after %p are eaten
  EXPECT_EQ(K("%pZ", nullptr), "0000000000000000");
}

TEST(FormatPointer, UnimplementedExtensionsFallBack) {
  for (const char* f : {"%pd", "%pd2", "%pD", "%pg", "%pGp", "%pC", "%pOF", "%pfw", "%ptR", "%p4cc"}) {
    EXPECT_EQ(K(f, (void*)kKey0), "000000009a932462") << f;
    EXPECT_EQ(K(f, nullptr), "(null)") << f;
    EXPECT_EQ(K(f, (void*)8), "(efault)") << f;
  }
  EXPECT_EQ(K("%pd %s", (void*)kKey0, "next"), "000000009a932462 next");
}

TEST(FormatPointer, Symbols) {
  void* f = reinterpret_cast<void*>(0xffffffffc0001010UL);
  EXPECT_EQ(K("%pS", f), "e1000_probe+0x10/0x200 [e1000]");
  EXPECT_EQ(last_mode, SIDE_FMT_SYM_OFFSET);
  EXPECT_EQ(K("%pSR", f), "e1000_probe+0x10/0x200 [e1000]");
  EXPECT_EQ(K("%pF", f), "e1000_probe+0x10/0x200 [e1000]");
  EXPECT_EQ(K("%ps", f), "e1000_probe [e1000]");
  EXPECT_EQ(last_mode, SIDE_FMT_SYM_NO_OFFSET);
  EXPECT_EQ(K("%pf", f), "e1000_probe [e1000]");
  EXPECT_EQ(K("%pB", reinterpret_cast<void*>(0xffffffffc0001200UL)), "e1000_probe+0x200/0x200 [e1000]");
  EXPECT_EQ(last_mode, SIDE_FMT_SYM_BACKTRACE);
  EXPECT_EQ(last_addr, 0xffffffffc0001200UL);
  EXPECT_EQ(K("%pS", (void*)0xffffffff81234567UL), "0xffffffff81234567");  // unknown: raw like kallsyms
  EXPECT_EQ(K("%pS", nullptr), "0x0");
  EXPECT_EQ(KH(nullptr, "%pS", f), "0xffffffffc0001010");
  EXPECT_EQ(K("[%-22ps]", f), "[e1000_probe [e1000]   ]");
  EXPECT_EQ(K("[%.11ps]", f), "[e1000_probe]");
}

TEST(FormatPointer, Mac) {
  const uint8_t mac[6] = {0x00, 0x1b, 0x21, 0x3a, 0x4b, 0xcf};
  EXPECT_EQ(K("%pM", mac), "00:1b:21:3a:4b:cf");
  EXPECT_EQ(K("%pMR", mac), "cf:4b:3a:21:1b:00");
  EXPECT_EQ(K("%pMF", mac), "00-1b-21-3a-4b-cf");
  EXPECT_EQ(K("%pm", mac), "001b213a4bcf");
  EXPECT_EQ(K("%pmR", mac), "cf4b3a211b00");
  EXPECT_EQ(K("[%20pM]", mac), "[   00:1b:21:3a:4b:cf]");
  EXPECT_EQ(K("%pM", nullptr), "(null)");
}

TEST(FormatPointer, Ipv4) {
  const uint8_t a[4] = {192, 168, 1, 7};
  EXPECT_EQ(K("%pI4", a), "192.168.1.7");
  EXPECT_EQ(K("%pi4", a), "192.168.001.007");
  EXPECT_EQ(K("%pI4h|%pI4l|%pI4n|%pI4b", a, a, a, a), "7.1.168.192|7.1.168.192|192.168.1.7|192.168.1.7");
  EXPECT_EQ(K("[%-14pI4]", a), "[192.168.1.7   ]");
  EXPECT_EQ(K("%pI5", a), "(%pI?)");
  EXPECT_EQ(K("%pi", a), "(%pi?)");
}

std::string V6(const char* f, std::initializer_list<uint16_t> groups) {
  uint8_t a[16];
  int i = 0;
  for (uint16_t g : groups) {
    a[i++] = g >> 8;
    a[i++] = g & 0xff;
  }
  return K(f, a);
}

TEST(FormatPointer, Ipv6) {
  EXPECT_EQ(V6("%pI6", {0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}), "2001:0db8:0000:0000:0000:0000:0000:0001");
  EXPECT_EQ(V6("%pi6", {0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}), "20010db8000000000000000000000001");
  EXPECT_EQ(V6("%pI6c", {0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}), "2001:db8::1");
  EXPECT_EQ(V6("%pI6c", {0, 0, 0, 0, 0, 0, 0, 0}), "::");
  EXPECT_EQ(V6("%pI6c", {0, 0, 0, 0, 0, 0, 0, 1}), "::1");
  EXPECT_EQ(V6("%pI6c", {1, 0, 0, 0, 0, 0, 0, 0}), "1::");
  EXPECT_EQ(V6("%pI6c", {1, 2, 3, 4, 5, 6, 0, 0}), "1:2:3:4:5:6::");
  EXPECT_EQ(V6("%pI6c", {1, 0, 0, 1, 0, 0, 0, 1}), "1:0:0:1::1");       // longest run wins
  EXPECT_EQ(V6("%pI6c", {1, 0, 0, 2, 0, 0, 3, 4}), "1::2:0:0:3:4");     // first of equal runs
  EXPECT_EQ(V6("%pI6c", {1, 0, 2, 3, 4, 5, 6, 7}), "1:0:2:3:4:5:6:7");  // single zero kept
  EXPECT_EQ(V6("%pI6c", {0xfe80, 0, 0, 0, 0x1ff, 0xfe23, 0x4567, 0x890a}), "fe80::1ff:fe23:4567:890a");
  EXPECT_EQ(V6("%pI6c", {0, 0, 0, 0, 0, 0xffff, 0xc0a8, 0x0101}), "::ffff:192.168.1.1");           // v4-mapped
  EXPECT_EQ(V6("%pI6c", {0xfe80, 0, 0, 0, 0, 0x5efe, 0xc0a8, 0x0101}), "fe80::5efe:192.168.1.1");  // ISATAP
  EXPECT_EQ(V6("%pI6c", {0xfe80, 0, 0, 0, 0x200, 0x5efe, 0x0a00, 0x0001}), "fe80::200:5efe:10.0.0.1");
  EXPECT_EQ(V6("%pI6c", {0, 0, 0, 0, 0, 0, 0xc0a8, 0x0101}), "::c0a8:101");  // v4-compatible is not special
  EXPECT_EQ(V6("%pI6c", {0xabcd, 0xef01, 0x2345, 0x6789, 0xabcd, 0xef01, 0x2345, 0x6789}),
            "abcd:ef01:2345:6789:abcd:ef01:2345:6789");
  EXPECT_EQ(K("%pI6c", nullptr), "(null)");
}

TEST(FormatPointer, Sockaddr) {
  sockaddr_in s4{};
  s4.sin_family = AF_INET;
  s4.sin_port = htons(8080);
  s4.sin_addr.s_addr = htonl(0x0a000001);
  EXPECT_EQ(K("%pIS", &s4), "10.0.0.1");
  EXPECT_EQ(K("%pISpc", &s4), "10.0.0.1:8080");
  EXPECT_EQ(K("%piS", &s4), "010.000.000.001");
  sockaddr_in6 s6{};
  s6.sin6_family = AF_INET6;
  s6.sin6_port = htons(443);
  s6.sin6_flowinfo = htonl(0xf0012345);  // only the low 28 bits are flow info
  s6.sin6_scope_id = 3;
  const uint8_t addr[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  std::memcpy(&s6.sin6_addr, addr, 16);
  EXPECT_EQ(K("%pIS", &s6), "2001:0db8:0000:0000:0000:0000:0000:0001");
  EXPECT_EQ(K("%pISc", &s6), "2001:db8::1");
  EXPECT_EQ(K("%pISpc", &s6), "[2001:db8::1]:443");
  EXPECT_EQ(K("%pISpfsc", &s6), "[2001:db8::1]:443/74565%3");
  EXPECT_EQ(K("%piS", &s6), "20010db8000000000000000000000001");
  sockaddr_storage other{};
  other.ss_family = AF_UNIX;
  EXPECT_EQ(K("%pISpc", &other), "(einval)");
}

TEST(FormatPointer, HexBuffers) {
  const uint8_t b[4] = {0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(K("%*ph", 4, b), "de ad be ef");
  EXPECT_EQ(K("%4phC", b), "de:ad:be:ef");
  EXPECT_EQ(K("%*phD", 4, b), "de-ad-be-ef");
  EXPECT_EQ(K("%*phN", 4, b), "deadbeef");
  EXPECT_EQ(K("%ph|%phN", b, b), "de|de");   // default length 1
  EXPECT_EQ(K("[%*ph]", 0, nullptr), "[]");  // length 0: not even a pointer check
  EXPECT_EQ(K("%*ph", 2, nullptr), "(null)");
  EXPECT_EQ(K("%*ph", -3, b), "de ad be");  // negative '*' width becomes positive
  uint8_t big[100];
  for (int i = 0; i < 100; i++) big[i] = (uint8_t)i;
  std::string s = K("%*phN", 100, big);
  EXPECT_EQ(s.size(), 128u);  // capped at 64 bytes
  EXPECT_EQ(s.substr(120), "3c3d3e3f");
}

TEST(FormatPointer, Bitmaps) {
  unsigned long map[2] = {0x000000010000000fUL, 0x1UL};
  EXPECT_EQ(K("%*pb", 40, map), "01,0000000f");
  EXPECT_EQ(K("%*pbl", 40, map), "0-3,32");
  EXPECT_EQ(K("%*pbl", 65, map), "0-3,32,64");
  EXPECT_EQ(K("%*pb", 65, map), "1,00000001,0000000f");
  EXPECT_EQ(K("[%pb]", map), "[]");
}

TEST(FormatPointer, Escaped) {
  const char s[] = "a\nb\\\"c\x01\xe9\x85";  // 9 bytes plus the NUL
  EXPECT_EQ(K("%*pE", 10, s), "a\\nb\\\"c\\001\xe9\\205\\0");
  EXPECT_EQ(K("%*pEs", 3, s), "a\\nb");
  EXPECT_EQ(K("%*pEc", 6, s), "a\nb\\\\\\\"c");
  EXPECT_EQ(K("%*pEh", 3, s), "\\x61\\x0a\\x62");
  EXPECT_EQ(K("%*pEhp", 7, s), "a\\x0ab\\\"c\\x01");
  EXPECT_EQ(K("%*pEn", 10, s), std::string("a\nb\\\"c\x01\xe9\x85\\0"));
  EXPECT_EQ(K("%pE", s), "a");
  EXPECT_EQ(K("[%*pE]", 0, s), "[]");
}

TEST(FormatPointer, Uuid) {
  uint8_t u[16];
  for (int i = 0; i < 16; i++) u[i] = (uint8_t)(0xa0 + i);
  EXPECT_EQ(K("%pU", u), "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
  EXPECT_EQ(K("%pUb", u), "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
  EXPECT_EQ(K("%pUB", u), "A0A1A2A3-A4A5-A6A7-A8A9-AAABACADAEAF");
  EXPECT_EQ(K("%pUl", u), "a3a2a1a0-a5a4-a7a6-a8a9-aaabacadaeaf");
  EXPECT_EQ(K("%pUL", u), "A3A2A1A0-A5A4-A7A6-A8A9-AAABACADAEAF");
}

TEST(FormatPointer, AddressesAndFeatures) {
  uint64_t phys = 0xfebc0000, dma = 0x1234567890ULL, feat = 0x1234;
  EXPECT_EQ(K("%pa|%pap|%pad", &phys, &phys, &dma), "0x00000000febc0000|0x00000000febc0000|0x0000001234567890");
  EXPECT_EQ(K("%pNF", &feat), "0x0000000000001234");
  EXPECT_EQ(K("%pNX", &feat), "(%pN?)");
  EXPECT_EQ(K("%pa", nullptr), "(null)");
  EXPECT_EQ(K("%pks|%pus|%pkx", "kstr", "ustr", "x"), "kstr|ustr|(einval)");
}

TEST(FormatPointer, ErrorPointers) {
  EXPECT_EQ(K("%pe", ErrPtr(-12)), "-ENOMEM");
  EXPECT_EQ(K("%pe", ErrPtr(-1)), "-EPERM");
  EXPECT_EQ(K("%pe", ErrPtr(-11)), "-EAGAIN");  // also EWOULDBLOCK
  EXPECT_EQ(K("%pe", ErrPtr(-22)), "-EINVAL");
  EXPECT_EQ(K("%pe", ErrPtr(-110)), "-ETIMEDOUT");
  EXPECT_EQ(K("%pe", ErrPtr(-133)), "-EHWPOISON");
  EXPECT_EQ(K("%pe", ErrPtr(-512)), "-ERESTARTSYS");
  EXPECT_EQ(K("%pe", ErrPtr(-517)), "-EPROBE_DEFER");
  EXPECT_EQ(K("%pe", ErrPtr(-524)), "-ENOTSUPP");
  EXPECT_EQ(K("%pe", ErrPtr(-530)), "-ERECALLCONFLICT");
  EXPECT_EQ(K("%pe", ErrPtr(-41)), "-41");    // hole in the errno space
  EXPECT_EQ(K("%pe", ErrPtr(-520)), "-520");  // hole in the internal range
  EXPECT_EQ(K("%pe", ErrPtr(-531)), "-531");  // ENOGRACE is not in 6.1's errname table
  EXPECT_EQ(K("%pe", ErrPtr(-4095)), "-4095");
  EXPECT_EQ(K("[%10pe][%-10pe]", ErrPtr(-12), ErrPtr(-1000)), "[   -ENOMEM][-1000     ]");
  EXPECT_EQ(K("%pe", nullptr), "0000000000000000");
  EXPECT_EQ(K("%pe", (void*)kKey0), "000000009a932462");  // not an ERR_PTR: plain %p
}

TEST(FormatPointer, Resources) {
  side_fmt_resource mem{0xfebc0000, 0xfebdffff, "BAR0", 0x200};
  EXPECT_EQ(K("%pR", &mem), "[mem 0xfebc0000-0xfebdffff]");
  EXPECT_EQ(K("%pr", &mem), "[mem 0xfebc0000-0xfebdffff flags 0x200]");
  side_fmt_resource mem64{0x800000000ULL, 0x8000fffffULL, nullptr, 0x200 | 0x2000 | 0x100000};
  EXPECT_EQ(K("%pR", &mem64), "[mem 0x800000000-0x8000fffff 64bit pref]");
  side_fmt_resource io{0xc000, 0xc03f, nullptr, 0x100};
  EXPECT_EQ(K("%pR", &io), "[io  0xc000-0xc03f]");
  side_fmt_resource io_small{0x10, 0x1f, nullptr, 0x100};
  EXPECT_EQ(K("%pR", &io_small), "[io  0x0010-0x001f]");
  side_fmt_resource irq{11, 11, nullptr, 0x400};
  EXPECT_EQ(K("%pR", &irq), "[irq 11]");
  side_fmt_resource bus{0, 0xff, nullptr, 0x1000};
  EXPECT_EQ(K("%pR", &bus), "[bus 00-ff]");
  side_fmt_resource unset{0, 0x1ffff, nullptr, 0x200 | 0x20000000};
  EXPECT_EQ(K("%pR", &unset), "[mem size 0x00020000]");
  side_fmt_resource win{0xa0000, 0xbffff, nullptr, 0x200 | 0x200000 | 0x10000000};
  EXPECT_EQ(K("%pR", &win), "[mem 0x000a0000-0x000bffff window disabled]");
  side_fmt_resource none{1, 2, nullptr, 0};
  EXPECT_EQ(K("%pR", &none), "[??? 0x00000001-0x00000002 flags 0x0]");
  EXPECT_EQ(K("%pR", nullptr), "(null)");
}

std::string Vf(const char* outer, const char* inner, ...) {
  va_list ap;
  va_start(ap, inner);
  side_fmt_va_format vaf{inner, &ap};
  std::string r = K(outer, &vaf, 99);
  va_end(ap);
  return r;
}

TEST(FormatPointer, VaFormat) {
  EXPECT_EQ(Vf("<%pV> %d", "x=%d s=%s", 5, "str"), "<x=5 s=str> 99");
  // Invalid conversions stop only the nested format, like the kernel's recursive vsnprintf().
  EXPECT_EQ(Vf("<%pV> %d", "a%nb", (int*)nullptr), "<a> 99");
  EXPECT_EQ(K("<%pV>", nullptr), "<(null)>");
}

// dev_err()-style double nesting: a driver helper wraps its own va_format in another %pV.
std::string Mid(const char* mid, ...) {
  va_list m;
  va_start(m, mid);
  side_fmt_va_format v2{mid, &m};
  std::string r = K("%s %s: %pV|", "e1000", "0000:00:03.0", &v2);
  va_end(m);
  return r;
}

std::string Nested2(const char* fmt, ...) {
  va_list inner;
  va_start(inner, fmt);
  side_fmt_va_format v1{fmt, &inner};
  std::string r = Mid("[%pV]", &v1);
  va_end(inner);
  return r;
}

TEST(FormatPointer, VaFormatNestedTwice) {
  EXPECT_EQ(Nested2("link %s at %d Mbps %pM", "up", 1000, "\x00\x11\x22\x33\x44\x55"),
            "e1000 0000:00:03.0: [link up at 1000 Mbps 00:11:22:33:44:55]|");
}

int RunTrunc(const char* outer, size_t size, char* out, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  side_fmt_va_format vaf{fmt, &ap};
  int n = side_fmt_snprintf(out, size, &kHooks, outer, &vaf);
  va_end(ap);
  return n;
}

TEST(FormatPointer, VaFormatTruncation) {
  // Alphanumerics right after any %p belong to the extension, so "%pVyz" swallows "yz" (as in the kernel).
  char buf[32];
  EXPECT_EQ(RunTrunc("ab%pVyz", sizeof buf, buf, "%s%d", "cde", 12), 7);
  EXPECT_STREQ(buf, "abcde12");
  for (size_t size = 0; size < 12; size++) {
    char out[16];
    std::memset(out, 'Q', sizeof out);
    EXPECT_EQ(RunTrunc("ab%pV-z", size, out, "%s%d", "cde", 12), 9);
    if (size) {
      EXPECT_EQ(std::string(out), std::string("abcde12-z").substr(0, size - 1)) << size;
    }
    EXPECT_EQ(out[size], 'Q');
  }
}

TEST(FormatPrintk, Levels) {
  int level = 99;
  const char* rest = nullptr;
  EXPECT_EQ(side_fmt_printk_level("\0013hello", &level, &rest), 0);
  EXPECT_EQ(level, 3);
  EXPECT_STREQ(rest, "hello");
  EXPECT_EQ(side_fmt_printk_level("plain", &level, &rest), 0);
  EXPECT_EQ(level, -1);
  EXPECT_STREQ(rest, "plain");
  EXPECT_EQ(side_fmt_printk_level("\001c\0016x", &level, &rest), SIDE_FMT_PRINTK_CONT);
  EXPECT_EQ(level, 6);
  EXPECT_STREQ(rest, "x");
  EXPECT_EQ(side_fmt_printk_level("\001ccont", &level, &rest), SIDE_FMT_PRINTK_CONT);
  EXPECT_EQ(level, -1);
  EXPECT_STREQ(rest, "cont");
  side_fmt_printk_level("\0016\0013two", &level, &rest);  // first level wins
  EXPECT_EQ(level, 6);
  EXPECT_STREQ(rest, "two");
  side_fmt_printk_level("\0010\0017", &level, &rest);
  EXPECT_EQ(level, 0);
  EXPECT_STREQ(rest, "");
  // 6.1 has KERN_DEFAULT == "", so "\001d" and other letters are not prefixes.
  for (const char* s : {"\001dtext", "\0018x", "\001", "\001 x"}) {
    side_fmt_printk_level(s, &level, &rest);
    EXPECT_EQ(level, -1) << s + 1;
    EXPECT_EQ(rest, s);
  }
  EXPECT_EQ(side_fmt_printk_level("\0014x", nullptr, nullptr), 0);
}

TEST(FormatThreads, ConcurrentCallsAreIndependent) {
  std::vector<std::thread> ts;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; t++) {
    ts.emplace_back([t, &ok] {
      for (int i = 0; i < 2000; i++) {
        char b[64], want[64];
        side_fmt_snprintf(b, sizeof b, &kHooks, "%d-%px-%s", t * 100000 + i, (void*)(uintptr_t)(i + 1), "x");
        snprintf(want, sizeof want, "%d-%016lx-%s", t * 100000 + i, (unsigned long)(i + 1), "x");
        if (std::strcmp(b, want) != 0) return;
      }
      ok[t] = 1;
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(ok, std::vector<int>(4, 1));
}

}  // namespace
