// QEMU with the vfio-user server, for tests: where the set-up script built it, and which of its processes a test
// started (side keeps each QEMU's socket directory in $TMPDIR, so a private one tells a test's QEMUs apart).
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "support/shell.h"

namespace side::test_support {

// The QEMU `build_qemu_script` (scripts/build-qemu.sh) built, or "" when it is not built on this machine.
inline std::string built_qemu(const std::string& build_qemu_script) {
  int status = -1;
  run_shell(build_qemu_script + " --check >/dev/null 2>&1", &status);
  if (status != 0) return "";
  std::string path = run_shell(build_qemu_script + " --print-path 2>/dev/null", &status);
  while (!path.empty() && path.back() == '\n') path.pop_back();
  return status == 0 && access(path.c_str(), X_OK) == 0 ? path : "";
}

// QEMU processes serving a vfio-user socket under `dir`.
inline int qemus_serving_under(const std::string& dir) {
  int n = 0;
  for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmdline(proc.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (args.find("x-vfio-user-server") != std::string::npos && args.find("path=" + dir + "/") != std::string::npos)
      ++n;
  }
  return n;
}

}  // namespace side::test_support
