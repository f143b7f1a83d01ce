// Strict parsing of numbers typed by a user or handed to a program on its command line. Unlike atoi and strtoul,
// nothing is skipped or wrapped: the whole text must be the number (no sign on an unsigned, no spaces, no
// trailing characters), and it must lie in the range given, or the result is an error that says so.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace side {

// A decimal integer in [min, max]. `what` names the value in the error ("--faults").
Result<uint64_t> parse_unsigned(std::string_view text, uint64_t min, uint64_t max, std::string_view what);

// A finite decimal number (such as seconds: "2", "0.5") in [min, max].
Result<double> parse_decimal(std::string_view text, double min, double max, std::string_view what);

}  // namespace side
