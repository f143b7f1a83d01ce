#include "common/sanitize.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace side {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `s` (not empty) and its code point, or 0 when there is
// none (RFC 3629: no overlong forms, no surrogates, nothing beyond U+10FFFF, no truncated sequence).
size_t decode_utf8(std::string_view s, char32_t* cp) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  size_t n;
  char32_t value, smallest;
  if (lead < 0x80) {
    *cp = lead;
    return 1;
  } else if (lead >= 0xc2 && lead <= 0xdf) {
    n = 2, value = lead & 0x1f, smallest = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    n = 3, value = lead & 0x0f, smallest = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    n = 4, value = lead & 0x07, smallest = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    value = (value << 6) | (byte(i) & 0x3f);
  }
  if (value < smallest || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return 0;
  *cp = value;
  return n;
}

// Code points that a terminal or a text renderer acts on rather than shows: C1 controls, and the bidirectional
// controls and separators that reorder or break what follows.
bool acts_on_display(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) ||
         cp == 0x200e || cp == 0x200f || cp == 0x061c || cp == 0x2028 || cp == 0x2029;
}

}  // namespace

std::string sanitize_text(std::string_view in, size_t max_bytes) {
  static constexpr std::string_view kCut = "...";
  max_bytes = std::max(max_bytes, kCut.size() + 1);
  std::string out;
  out.reserve(std::min(in.size(), max_bytes) + 8);
  size_t fits = 0;  // output length up to the last whole character that leaves room for kCut
  char escape[12];
  for (size_t i = 0; i < in.size();) {
    char32_t cp = 0;
    size_t n = decode_utf8(in.substr(i), &cp);
    std::string_view piece;
    if (n == 0) {
      std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned char>(in[i]));
      piece = escape;
      n = 1;
    } else if (cp == '\t') {
      piece = " ";
    } else if (cp < 0x20 || cp == 0x7f) {
      std::snprintf(escape, sizeof escape, "\\x%02x", static_cast<unsigned>(cp));
      piece = escape;
    } else if (cp == '\\') {
      piece = "\\\\";
    } else if (acts_on_display(cp)) {
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(cp));
      piece = escape;
    } else {
      piece = in.substr(i, n);
    }
    out += piece;
    i += n;
    if (out.size() > max_bytes) {
      out.resize(fits);
      return out += kCut;
    }
    if (out.size() + kCut.size() <= max_bytes) fits = out.size();
  }
  return out;
}

void sanitize_field(char* field, size_t size) {
  if (size == 0) return;
  const std::string clean = sanitize_text(std::string_view(field, strnlen(field, size - 1)), size - 1);
  std::memset(field, 0, size);
  std::memcpy(field, clean.data(), std::min(clean.size(), size - 1));
}

}  // namespace side
