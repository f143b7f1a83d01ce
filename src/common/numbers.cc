#include "common/numbers.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <type_traits>

namespace side {
namespace {

// The text quoted in an error message, cut short so that an argument of any size gives one short line.
std::string quoted(std::string_view text) {
  constexpr size_t kShown = 32;
  std::string out;
  for (char c : text.substr(0, kShown)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return "'" + out + (text.size() > kShown ? "...'" : "'");
}

template <class T>
std::string range_text(T min, T max) {
  if constexpr (std::is_floating_point_v<T>) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g..%g", min, max);
    return buf;
  } else {
    return std::to_string(min) + ".." + std::to_string(max);
  }
}

template <class T>
Result<T> parse_strict(std::string_view text, T min, T max, std::string_view what, const char* kind) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  bool ok = !text.empty() && ec == std::errc() && ptr == end;
  if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(value);
  if (!ok || value < min || value > max) {
    return make_error(std::string(what) + " takes " + kind + " in " + range_text(min, max) + ", not " + quoted(text));
  }
  return value;
}

}  // namespace

Result<uint64_t> parse_unsigned(std::string_view text, uint64_t min, uint64_t max, std::string_view what) {
  return parse_strict<uint64_t>(text, min, max, what, "an integer");
}

Result<double> parse_decimal(std::string_view text, double min, double max, std::string_view what) {
  return parse_strict<double>(text, min, max, what, "a number");
}

}  // namespace side
