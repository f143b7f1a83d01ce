// SPDX-License-Identifier: GPL-2.0-only
// Plain C conversions of the kernel formatter compared with glibc over generated cases. The kernel deliberately
// differs from ISO C in a few corners (see format_test.cc for those); the generator skips exactly those corners so
// that every other combination must match byte for byte, including the return value and truncation.
#include <gtest/gtest.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "format.h"

namespace {

struct Both {
  std::string kernel, libc;
  int kret, cret;
};

// Runs the same format and arguments through both implementations.
Both RunBoth(const char* fmt, ...) {
  char kb[512], cb[512];
  va_list a, b;
  va_start(a, fmt);
  va_copy(b, a);
  int kret = side_fmt_vsnprintf(kb, sizeof kb, fmt, a, nullptr);
  int cret = vsnprintf(cb, sizeof cb, fmt, b);
  va_end(b);
  va_end(a);
  return {kb, cb, kret, cret};
}

struct Value {
  int64_t v;
};

int Digits(uint64_t v, unsigned base) {
  int n = 1;
  while (v >= base) {
    v /= base;
    n++;
  }
  return n;
}

// Value after the conversion the length modifier implies, as an unsigned 64-bit pattern, for the skip rules.
uint64_t Converted(int64_t v, const std::string& len, char conv) {
  bool sgn = conv == 'd' || conv == 'i';
  if (len == "hh") return sgn ? (uint64_t)(int64_t)(signed char)v : (unsigned char)v;
  if (len == "h") return sgn ? (uint64_t)(int64_t)(short)v : (unsigned short)v;
  if (len.empty()) return sgn ? (uint64_t)(int64_t)(int)v : (unsigned)v;
  return (uint64_t)v;
}

// Calls RunBoth() with the argument type the length modifier requires; star_w/star_p are passed first when used.
Both RunTyped(const std::string& fmt, const std::string& len, char conv, int64_t v, bool sw, int w, bool sp, int p) {
  bool sgn = conv == 'd' || conv == 'i';
  auto call = [&](auto arg) {
    if (sw && sp) return RunBoth(fmt.c_str(), w, p, arg);
    if (sw) return RunBoth(fmt.c_str(), w, arg);
    if (sp) return RunBoth(fmt.c_str(), p, arg);
    return RunBoth(fmt.c_str(), arg);
  };
  if (len == "hh" || len == "h" || len.empty()) return sgn ? call((int)v) : call((unsigned)v);
  if (len == "l") return sgn ? call((long)v) : call((unsigned long)v);
  if (len == "ll") return sgn ? call((long long)v) : call((unsigned long long)v);
  if (len == "z") return sgn ? call((ssize_t)v) : call((size_t)v);
  if (len == "t") return call((ptrdiff_t)v);
  return sgn ? call((intmax_t)v) : call((uintmax_t)v);  // j
}

TEST(FormatGlibc, IntegerConversionsMatchOutsideKernelQuirks) {
  const char* flag_sets[] = {"", "-", "+", " ", "0", "#", "-0", "+0", " 0", "#0", "-#", "+ ", "-+", "#-0"};
  struct Width {
    const char* text;
    bool star;
    int value;
  } widths[] = {{"", false, -1},   {"0", false, 0}, {"1", false, 1}, {"5", false, 5}, {"12", false, 12},
                {"25", false, 25}, {"*", true, 7},  {"*", true, -9}, {"*", true, 0}};
  struct Prec {
    const char* text;
    bool star;
    int value;  // -1: none
  } precs[] = {{"", false, -1},    {".0", false, 0}, {".1", false, 1}, {".3", false, 3},
               {".10", false, 10}, {".*", true, 4},  {".*", true, 0},  {".*", true, 22}};
  const char* lens[] = {"hh", "h", "", "l", "ll", "z", "t", "j"};
  const char convs[] = {'d', 'i', 'u', 'x', 'X', 'o'};
  const int64_t values[] = {0,
                            1,
                            -1,
                            7,
                            8,
                            9,
                            10,
                            15,
                            16,
                            100,
                            127,
                            -128,
                            255,
                            256,
                            32767,
                            -32768,
                            65535,
                            123456789,
                            -123456789,
                            INT32_MAX,
                            INT32_MIN,
                            UINT32_MAX,
                            0x7fff1234,
                            INT64_MAX,
                            INT64_MIN,
                            0x1234abcd5678ef01LL,
                            -0x1234abcd5678LL};
  int compared = 0;
  for (const char* flags : flag_sets) {
    std::string fl = flags;
    for (const auto& w : widths) {
      for (const auto& p : precs) {
        for (const char* len : lens) {
          for (char conv : convs) {
            for (int64_t v : values) {
              uint64_t cv = Converted(v, len, conv);
              bool zero = fl.find('0') != std::string::npos, left = fl.find('-') != std::string::npos;
              bool alt = fl.find('#') != std::string::npos;
              bool has_p = p.value >= 0;
              // Kernel quirks, covered by exact-string tests elsewhere:
              if (has_p && zero && !left) continue;                                  // '0' kept with a precision
              if (has_p && p.value == 0 && cv == 0) continue;                        // "%.0d" of 0 prints "0"
              if (alt && (conv == 'x' || conv == 'X') && cv == 0) continue;          // "%#x" of 0 prints "0x0"
              if (alt && conv == 'o' && has_p && p.value > Digits(cv, 8)) continue;  // "0" prefix plus zeros
              std::string fmt = "<%" + fl + w.text + p.text + len + conv + ">";
              Both r = RunTyped(fmt, len, conv, v, w.star, w.value, p.star, p.value);
              ASSERT_EQ(r.kernel, r.libc) << "format " << fmt << " value " << v;
              ASSERT_EQ(r.kret, r.cret) << "format " << fmt << " value " << v;
              compared++;
            }
          }
        }
      }
    }
  }
  EXPECT_GT(compared, 100000);
}

TEST(FormatGlibc, StringAndCharConversionsMatch) {
  const char* strs[] = {"", "a", "hello", "hello, world", "tab\there", "\xe9t\xe9"};
  const char* flag_sets[] = {"", "-", "0", "-0", "#", "+", " "};
  const char* widths[] = {"", "0", "1", "3", "8", "20"};
  const char* precs[] = {"", ".0", ".1", ".4", ".30"};
  for (const char* s : strs) {
    for (const char* fl : flag_sets) {
      for (const char* w : widths) {
        for (const char* p : precs) {
          std::string fmt = std::string("[%") + fl + w + p + "s]";
          Both r = RunBoth(fmt.c_str(), s);
          ASSERT_EQ(r.kernel, r.libc) << fmt << " " << s;
          ASSERT_EQ(r.kret, r.cret) << fmt;
        }
        // %c ignores precision in both; the '0' flag is undefined for %c in ISO C, so it is only checked in
        // format_test.cc against the kernel's space padding.
        if (std::strchr(fl, '0')) continue;
        std::string fmt = std::string("[%") + fl + w + "c]";
        Both r = RunBoth(fmt.c_str(), s[0] ? s[0] : 'Z');
        ASSERT_EQ(r.kernel, r.libc) << fmt;
      }
    }
  }
  // '*' widths, negative meaning left-justified, and non-negative '*' precisions.
  for (int w = -12; w <= 12; w += 3) {
    for (int p = 0; p <= 6; p++) {
      Both r = RunBoth("%*.*s|%*c|%-*s", w, p, "abcdef", w, 'q', w, "xy");
      ASSERT_EQ(r.kernel, r.libc) << w << " " << p;
    }
  }
}

TEST(FormatGlibc, MixedFormatsAndPercent) {
  Both r = RunBoth("%d%%%s%c%5u%-6x|%#o|%+d|% d", -3, "str", 'c', 42u, 0xabcu, 8, 5, 6);
  EXPECT_EQ(r.kernel, r.libc);
  EXPECT_EQ(r.kret, r.cret);
  r = RunBoth("no conversions at all");
  EXPECT_EQ(r.kernel, r.libc);
  r = RunBoth("");
  EXPECT_EQ(r.kernel, "");
  EXPECT_EQ(r.kret, 0);
}

// Every prefix length: same bytes as glibc, same return value, NUL-terminated, nothing written past size.
TEST(FormatGlibc, TruncationMatchesAtEverySize) {
  const char* fmt = "%s=%08x (%-5d) [%10.3s] %lld%c";
  const char* s = "alpha";
  char full[256];
  int n = snprintf(full, sizeof full, fmt, s, 0xbeefu, -42, "truncate", -9000000000LL, '!');
  for (size_t size = 0; size <= (size_t)n + 3; size++) {
    char kb[300], cb[300];
    std::memset(kb, 0x5a, sizeof kb);
    std::memset(cb, 0x5a, sizeof cb);
    int kr = side_fmt_snprintf(kb, size, nullptr, fmt, s, 0xbeefu, -42, "truncate", -9000000000LL, '!');
    int cr = snprintf(cb, size, fmt, s, 0xbeefu, -42, "truncate", -9000000000LL, '!');
    ASSERT_EQ(kr, cr) << size;
    ASSERT_EQ(kr, n);
    ASSERT_EQ(0, std::memcmp(kb, cb, sizeof kb)) << "size " << size;
    ASSERT_EQ((unsigned char)kb[size], 0x5a) << "wrote past the end at size " << size;
  }
  EXPECT_EQ(side_fmt_snprintf(nullptr, 0, nullptr, fmt, s, 1u, 2, "x", 3LL, 'c'),
            snprintf(nullptr, 0, fmt, s, 1u, 2, "x", 3LL, 'c'));
}

}  // namespace
