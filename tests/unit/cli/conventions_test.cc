// The conventions side keeps with the tools beside it: `side --version`, a manual page generated from its help texts
// with the exit statuses in it, and bash completion of commands, modules and options. Each runs the built files.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "common/build_config.h"
#include "ipc/protocol.h"

namespace {

// The command's standard output and exit status (through sh -c).
struct Output {
  int status = -1;
  std::string text;
};

Output capture(const std::string& command) {
  Output out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  std::array<char, 4096> buf{};
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), p)) > 0;) out.text.append(buf.data(), n);
  out.status = pclose(p);
  return out;
}

TEST(Conventions, VersionNamesTheRevisionTheKernelAbiAndTheProtocol) {
  Output v = capture(std::string(SIDE_BINARY) + " --version");
  ASSERT_EQ(v.status, 0);
  // help2man and scripts read the first line: "side VERSION (git REVISION)".
  EXPECT_TRUE(v.text.starts_with("side 0.")) << v.text;
  EXPECT_NE(v.text.find(" (git "), std::string::npos) << v.text;
  EXPECT_EQ(v.text.find("(git unknown)"), std::string::npos) << "built from a git clone: " << v.text;
  EXPECT_NE(v.text.find(std::string("kernel ABI: ") + SIDE_KERNEL_RELEASE + "\n"), std::string::npos) << v.text;
  EXPECT_NE(v.text.find("IPC protocol: version " + std::to_string(SIDE_IPC_VERSION) + "\n"), std::string::npos)
      << v.text;
  EXPECT_EQ(capture(std::string(SIDE_BINARY) + " version").text, v.text);
}

TEST(Conventions, ManualPageHasEveryCommandAndTheExitStatuses) {
  if (!std::filesystem::exists(SIDE_MANPAGE)) GTEST_SKIP() << "help2man was not found at configure time";
  // Wide enough that no line is wrapped: justification would pad the words with spaces.
  Output man = capture("MANWIDTH=1000 man -l -P cat " SIDE_MANPAGE " 2>/dev/null");
  ASSERT_EQ(man.status, 0);
  for (const char* expected :
       {"EXIT STATUS", "gave up on the driver", "Usage error", "ENVIRONMENT", "SIDE_MODULES_DIR", "side run",
        "--arena-mb", "side inject", "--faults", "side bench", "side conformance", "side modinfo", "side symbols",
        "side devices", "OUTPUT", "side-inject/1", "progress line"}) {
    EXPECT_NE(man.text.find(expected), std::string::npos) << "no '" << expected << "' in the manual page";
  }
}

// What bash completion offers for a command line whose last word is being typed.
std::string complete(const std::string& words) {
  const std::string script = "source /usr/share/bash-completion/bash_completion && source " SIDE_COMPLETION
                             " && COMP_WORDS=(" SIDE_BINARY " " +
                             words +
                             ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) &&"
                             " COMP_LINE=\"${COMP_WORDS[*]}\" && COMP_POINT=${#COMP_LINE} && _side;"
                             " for word in \"${COMPREPLY[@]}\"; do echo \"$word\"; done";
  return capture("bash -c '" + script + "' 2>&1").text;
}

TEST(Conventions, DeviceNamesForCompletionAreTheListedModels) {
  Output names = capture(std::string(SIDE_BINARY) + " __complete devices");
  ASSERT_EQ(names.status, 0);
  EXPECT_EQ(names.text,
            "builtin\nqemu:e1000\nqemu:e1000-82545em\nqemu:rtl8139\nqemu:rtl8139-8139c\nqemu:ne2k_pci\n"
            "qemu:pcnet\nqemu:e1000e\nqemu:virtio-net-pci\nqemu:tulip\nqemu:vmxnet3\nqemu:virtio-blk-pci\nqemu:nvme\n");
  Output listing = capture(std::string(SIDE_BINARY) + " devices");
  ASSERT_EQ(listing.status, 0);
  EXPECT_TRUE(listing.text.starts_with("e1000 ")) << listing.text;
  EXPECT_NE(listing.text.find("8086:100e"), std::string::npos) << listing.text;
  EXPECT_NE(listing.text.find("\nqemu:rtl8139  10ec:8139"), std::string::npos) << listing.text;
}

TEST(Conventions, BashCompletesCommandsModulesAndOptions) {
  if (!std::filesystem::exists("/usr/share/bash-completion/bash_completion")) {
    GTEST_SKIP() << "bash-completion is not installed (scripts/setup.sh installs it)";
  }
  EXPECT_EQ(complete("ru"), "run\n");
  EXPECT_EQ(complete("--vers"), "--version\n");
  EXPECT_NE(complete("run e100").find("e1000\n"), std::string::npos);
  EXPECT_EQ(complete("modinfo 8139t"), "8139too\n");
  EXPECT_EQ(complete("run e1000 --arena"), "--arena-mb\n");
  EXPECT_EQ(complete("inject e1000 --fau"), "--faults\n");
  EXPECT_EQ(complete("run e1000 --isolation in"), "inproc\n");
  EXPECT_EQ(complete("bench --class bl"), "block\n");
  EXPECT_EQ(complete("bench --dep"), "--depths\n");
  // After the module, words are parameters and options, not modules.
  EXPECT_EQ(complete("run e1000 e100"), "");
  // What --device takes: builtin, or one of QEMU's models as `side devices` lists them.
  EXPECT_EQ(complete("dev"), "devices\n");
  EXPECT_EQ(complete("run e1000 --device bu"), "builtin\n");
  // (after "qemu:", only what follows the colon: readline took the colon as a word break)
  EXPECT_EQ(complete("run e1000 --device qemu:rt"), "rtl8139\nrtl8139-8139c\n");
  EXPECT_EQ(complete("inject e1000 --types lost"), "lostirq\n");
  EXPECT_EQ(complete("devices --dr"), "--drivers\n");
  // conformance: its options, and the drivers and rows of the matrix for --drivers (the last item of a list).
  EXPECT_EQ(complete("confor"), "conformance\n");
  EXPECT_EQ(complete("conformance --mark"), "--markdown\n");
  EXPECT_EQ(complete("conformance --drivers 8139c"), "8139cp\n8139cp@qemu:rtl8139\n");
  EXPECT_EQ(complete("conformance --drivers e1000,pcn"), "e1000,pcnet32\ne1000,pcnet32@qemu:pcnet\n");
}

}  // namespace
