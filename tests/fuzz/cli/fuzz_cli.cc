// libFuzzer target: side's command-line parsing (cli/args.h) on arbitrary argv. The input is split at NUL bytes
// into arguments; parse_command_line() must return a command or an error for every one of them, never crash,
// print, exit or touch a file.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args(1);
  for (size_t i = 0; i < size && args.size() < 64; ++i) {
    if (data[i] == 0)
      args.emplace_back();
    else
      args.back() += static_cast<char>(data[i]);
  }
  auto parsed = side::cli::parse_command_line(args);
  // An error is one line: the caller prints it as such.
  if (!parsed && parsed.error().message.empty()) __builtin_trap();
  return 0;
}
