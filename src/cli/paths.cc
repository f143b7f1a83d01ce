#include <cstdlib>

#include "cli/commands.h"
#include "common/build_config.h"

namespace side::cli {

Paths Paths::from_environment() {
  auto env = [](const char* name, const char* fallback) {
    const char* v = std::getenv(name);
    return std::string(v && *v ? v : fallback);
  };
  return Paths{env("SIDE_KAPI", SIDE_DEFAULT_KAPI_MODULE), env("SIDE_SYMVERS", SIDE_DEFAULT_SYMVERS),
               env("SIDE_MODULES_DIR", SIDE_DEFAULT_MODULES_DIR)};
}

}  // namespace side::cli
