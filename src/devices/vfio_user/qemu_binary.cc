#include "devices/vfio_user/qemu_binary.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace side::vfio_user {
namespace {

// The build script: in the source tree side was built from, else where scripts/install.sh put it.
std::string build_script() {
  for (const char* path : {SIDE_BUILD_QEMU_SCRIPT, SIDE_INSTALLED_BUILD_QEMU_SCRIPT}) {
    if (access(path, X_OK) == 0) return path;
  }
  return {};
}

// Runs the script with `option` and returns the last line it printed on stdout (its stderr stays the user's).
Result<std::string> run_script(const std::string& script, const char* option) {
  const std::string command = "'" + script + "' " + option;
  FILE* out = popen(command.c_str(), "r");
  if (!out) return make_error("cannot run " + script);
  std::string text;
  char buf[512];
  while (std::fgets(buf, sizeof buf, out)) text = buf;
  const int status = pclose(out);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (status != 0 || text.empty()) return make_error(script + " " + option + " failed");
  return text;
}

}  // namespace

Result<std::string> find_qemu(bool build) {
  if (const char* env = std::getenv("SIDE_QEMU"); env && *env) {
    if (access(env, X_OK) != 0) return make_error(std::string("SIDE_QEMU=") + env + " is not an executable");
    return std::string(env);
  }
  const std::string script = build_script();
  if (script.empty()) return make_error("scripts/build-qemu.sh is not installed; set SIDE_QEMU");
  auto path = run_script(script, "--print-path");
  if (!path) return path.error();
  if (access(path->c_str(), X_OK) == 0) return path;
  if (!build) return make_error("QEMU with the vfio-user server is not built yet (scripts/build-qemu.sh builds it)");
  std::fprintf(stderr, "side: building QEMU with the vfio-user server (once per machine; this takes minutes)\n");
  return run_script(script, "");
}

}  // namespace side::vfio_user
