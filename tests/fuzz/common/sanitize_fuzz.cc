// Arbitrary bytes through the sanitizer of domain text (common/sanitize.h). The first two bytes choose the output
// bound. Any output byte a terminal acts on (C0, DEL, UTF-8 encoded C1, bidi controls), malformed UTF-8, or an
// output beyond its bound aborts.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/sanitize.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// Walks `s` as UTF-8: every sequence well-formed, and no code point a terminal or renderer acts on.
void check_clean(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    check(c >= 0x20 && c != 0x7f);
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    check(n != 0 && i + n <= s.size());
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      check((b & 0xc0) == 0x80);
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr uint32_t kSmallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    check(n == 1 || (cp >= kSmallest[n] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff)));
    check(!(cp >= 0x80 && cp <= 0x9f) && !(cp >= 0x202a && cp <= 0x202e) && !(cp >= 0x2066 && cp <= 0x2069));
    check(cp != 0x200e && cp != 0x200f && cp != 0x061c && cp != 0x2028 && cp != 0x2029);
    i += n;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t bound = 4 + ((data[0] | (data[1] << 8)) % 4096);
  const std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::string out = side::sanitize_text(text, bound);
  check(out.size() <= bound);
  check_clean(out);
  // Short clean input is kept as it is.
  if (text.size() <= bound && text.find_first_of("\\\t") == std::string_view::npos) {
    bool plain = true;
    for (char c : text) plain &= static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
    if (plain) check(out == text);
  }
  char field[16];
  std::memcpy(field, data + 2, std::min<size_t>(size - 2, sizeof field));
  if (size - 2 < sizeof field) std::memset(field + (size - 2), 'x', sizeof field - (size - 2));
  side::sanitize_field(field, sizeof field);
  check(field[sizeof field - 1] == '\0');
  check_clean(field);
  return 0;
}
