// `side --version` and `side __complete`: what side is, and the words its shell completion offers.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/build_config.h"
#include "common/side_version.h"
#include "conformance/matrix.h"
#include "devices/device_models.h"
#include "ipc/protocol.h"
#include "loader/module_index.h"

namespace side::cli {

int version_command() {
  // The first line is what help2man and scripts read: "side VERSION".
  std::printf("side %s (git %s)\n", SIDE_VERSION, SIDE_GIT_REVISION);
  std::printf("kernel ABI: %s\n", SIDE_KERNEL_RELEASE);
  std::printf("IPC protocol: version %u\n", static_cast<unsigned>(SIDE_IPC_VERSION));
  return 0;
}

int complete_command(const CompleteArgs& args) {
  if (args.what == "commands") {
    for (const char* c : kCommands) std::printf("%s\n", c);
    return 0;
  }
  if (args.what == "devices") {  // what --device takes
    std::printf("builtin\n");
    for (const auto& m : devices::qemu_device_models()) std::printf("%s\n", m.name.c_str());
    return 0;
  }
  if (args.what == "rows") {  // what conformance --drivers takes: each driver, then each row
    std::vector<std::string> drivers;
    for (const auto& e : conformance::nic_matrix()) {
      if (std::find(drivers.begin(), drivers.end(), e.module) == drivers.end()) drivers.push_back(e.module);
    }
    for (const auto& d : drivers) std::printf("%s\n", d.c_str());
    for (const auto& e : conformance::nic_matrix()) std::printf("%s\n", e.name().c_str());
    return 0;
  }
  loader::ModuleIndex index(Paths::from_environment().modules_dir);
  auto names = index.names();
  if (!names) return 1;  // completion offers nothing rather than an error in the middle of the user's line
  for (const auto& n : *names) std::printf("%s\n", n.c_str());
  return 0;
}

}  // namespace side::cli
