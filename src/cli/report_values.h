// How the benchmark reports (NIC and block) write a figure that may be missing: a ratio only of measured values, a
// JSON number or null (never a string), a table cell or "n/a".
#pragma once

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "cli/json.h"

namespace side::cli {

// a / b, or nothing when either was not measured.
inline std::optional<double> ratio(double a, double b) {
  if (b <= 0 || a < 0) return std::nullopt;
  return a / b;
}

inline void json_optional(Json& j, const std::string& key, std::optional<double> v) {
  if (v && std::isfinite(*v))
    j.field(key, *v);
  else
    j.key(key).null();  // not measured: no figure
}

inline std::string fmt(const char* f, std::optional<double> v) {
  if (!v || !std::isfinite(*v)) return "n/a";
  char b[64];
  std::snprintf(b, sizeof b, f, *v);
  return b;
}

}  // namespace side::cli
