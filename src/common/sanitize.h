// Text a driver domain handed over (log lines, fault messages, device names, ethtool strings, error payloads),
// made safe to show on a terminal or in a log file. The domain is hostile: its bytes must not move the cursor,
// change colours or the window title, start a line that looks like side's own, or reorder what follows on the
// screen. Everything that could is replaced by a visible escape:
//   - C0 controls (newline and carriage return included) and DEL: \xNN (a tab becomes a space);
//   - C1 controls, as raw bytes (never valid UTF-8) or encoded in UTF-8 (U+0080..U+009F, e.g. the 8-bit CSI
//     U+009B): \xNN or \u00NN;
//   - bidirectional overrides, embeddings, isolates and marks (U+202A..U+202E, U+2066..U+2069, U+200E, U+200F,
//     U+061C) and the line/paragraph separators U+2028, U+2029: \uNNNN;
//   - bytes that are not well-formed UTF-8 (overlong forms, surrogates, beyond U+10FFFF, truncated): \xNN each;
//   - the backslash itself: \\ (so that an escape in the output always comes from the sanitizer).
// The result is at most `max_bytes` bytes (at least 4 are assumed), cut on a character boundary and ended by
// "..." when the input did not fit. Everything else, printable ASCII and well-formed UTF-8, is kept as it is.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace side {

std::string sanitize_text(std::string_view text, size_t max_bytes);
inline std::string sanitize_text(std::span<const unsigned char> bytes, size_t max_bytes) {
  return sanitize_text(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), max_bytes);
}

// The same into a fixed character field (a C string of `size` bytes, the last one NUL): for the strings of a
// structure a domain sent (netdev names, ethtool strings), sanitized in place.
void sanitize_field(char* field, size_t size);

}  // namespace side
