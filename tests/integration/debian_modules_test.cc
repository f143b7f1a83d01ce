// Debian's own driver binaries load into a domain, and their init registers their PCI drivers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <tuple>

#include "test_domain.h"

using side::testing::TestDomain;

namespace {

bool has_id(const side::domain::PciDriver& d, uint32_t vendor, uint32_t device) {
  for (const auto& id : d.ids) {
    if (id.vendor == vendor && id.device == device) return true;
  }
  return false;
}

std::string run(const std::string& args, int* status) {
  std::string out;
  FILE* p = popen((std::string(SIDE_BINARY) + " " + args + " 2>&1").c_str(), "r");
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  *status = pclose(p);
  return out;
}

}  // namespace

// Until the network stack of the kernel-API layer is complete (issue #3), some of these drivers' imports are
// missing; init only registers the driver, so the load is allowed and any call to a missing one would fault.
TEST(DebianModules, E1000RegistersItsPciDriver) {
  TestDomain d(SIDE_TEST_MODULE_CACHE);
  auto m = d->load({"e1000", "", true});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_TRUE(d.logged("e1000: Intel(R) PRO/1000 Network Driver"));
  auto drivers = d->pci_drivers();
  ASSERT_EQ(drivers.size(), 1u);
  EXPECT_EQ(drivers[0].name, "e1000");
  EXPECT_EQ(drivers[0].module, "e1000");
  EXPECT_EQ(drivers[0].ids.size(), 37u);
  EXPECT_TRUE(has_id(drivers[0], 0x8086, 0x100e));  // 82540EM
  // The emulated 82540EM (8086:100e, subsystem 8086:001e, Ethernet controller) binds to it; a RealTek does not.
  auto bound = d->match_pci_driver(0x8086, 0x100e, 0x8086, 0x001e, 0x020000);
  ASSERT_TRUE(bound);
  EXPECT_EQ(bound->name, "e1000");
  EXPECT_FALSE(d->match_pci_driver(0x10ec, 0x8139, 0x10ec, 0x8139, 0x020000));
  EXPECT_TRUE(d->faults().empty());
}

TEST(DebianModules, Rtl8139RegistersItsPciDriver) {
  TestDomain d(SIDE_TEST_MODULE_CACHE);
  auto m = d->load({"8139too", "", true});
  ASSERT_TRUE(m) << m.error().message << d.log();
  auto drivers = d->pci_drivers();
  ASSERT_EQ(drivers.size(), 1u);
  EXPECT_EQ(drivers[0].name, "8139too");
  EXPECT_TRUE(has_id(drivers[0], 0x10ec, 0x8139));
  // 8139too depends on mii, which loaded first.
  ASSERT_EQ(d->modules().size(), 2u);
  EXPECT_EQ(d->modules()[0]->name, "mii");
}

TEST(DebianModules, Ne2kPciLoadsAfter8390) {
  TestDomain d(SIDE_TEST_MODULE_CACHE);
  auto m = d->load({"ne2k-pci", "", true});
  ASSERT_TRUE(m) << m.error().message << d.log();
  auto mods = d->modules();
  ASSERT_EQ(mods.size(), 2u);
  EXPECT_EQ(mods[0]->name, "8390");
  EXPECT_EQ(mods[1]->name, "ne2k_pci");
  auto drivers = d->pci_drivers();
  ASSERT_EQ(drivers.size(), 1u);
  EXPECT_EQ(drivers[0].name, "ne2k-pci");
  EXPECT_TRUE(has_id(drivers[0], 0x10ec, 0x8029));  // RealTek RTL-8029
}

TEST(DebianModules, E1000WithParameters) {
  TestDomain d(SIDE_TEST_MODULE_CACHE);
  auto m = d->load({"e1000", "TxDescriptors=256,128 debug=2", true});
  ASSERT_TRUE(m) << m.error().message << d.log();
  EXPECT_FALSE(d.logged("unknown parameter"));
}

// The Debian NIC drivers of the conformance matrix (issue #14): each imports nothing side lacks (its dependencies,
// such as 8390 for ne2k-pci and mii for 8139too, included), and loads in a domain process whose init registers its
// PCI driver.
class MatrixDriver : public ::testing::TestWithParam<const char*> {};

TEST_P(MatrixDriver, HasNoMissingImportAndLoads) {
  int status;
  std::string missing = run(std::string("symbols ") + GetParam() + " --missing", &status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << missing;
  EXPECT_EQ(missing, "") << GetParam();
  std::string out = run(std::string("run ") + GetParam() + " --load-only", &status);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_EQ(out.find("unknown symbols"), std::string::npos) << out;
  EXPECT_NE(out.find("loaded "), std::string::npos) << out;
}

INSTANTIATE_TEST_SUITE_P(Issue14, MatrixDriver,
                         ::testing::Values("8139too", "8139cp", "ne2k-pci", "8390", "pcnet32", "e100", "tulip",
                                           "vmxnet3", "e1000e"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name;
                           for (const char* c = info.param; *c; ++c) name += std::isalnum(*c) ? *c : '_';
                           return name;
                         });

TEST(Cli, ModinfoE1000SaysTheAbiMatches) {
  int status;
  std::string out = run("modinfo e1000", &status);
  EXPECT_EQ(status, 0) << out;
  for (const char* field : {"filename:", "name:           e1000", "description:    Intel(R) PRO/1000 Network Driver",
                            "license:        GPL v2", "vermagic:",
                            "parm:           TxDescriptors:Number of transmit "
                            "descriptors (array of int)",
                            "alias:          pci:v00008086d0000100Esv*sd*bc*sc*i*", "pci id:         8086:100e",
                            "abi:            matches"}) {
    EXPECT_NE(out.find(field), std::string::npos) << field << "\n" << out;
  }
}

TEST(Cli, ModinfoNe2kPciListsItsDependency) {
  int status;
  std::string out = run("modinfo ne2k-pci", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("depends:        8390"), std::string::npos) << out;
}

TEST(Cli, CorruptModulesGetAClearErrorNeverACrash) {
  std::string dir = ::testing::TempDir();
  std::string src = std::string(SIDE_TEST_MODULES_DIR) + "/side_test_alloc.ko";
  FILE* in = fopen(src.c_str(), "rb");
  ASSERT_NE(in, nullptr);
  std::vector<char> bytes(1 << 20);
  bytes.resize(fread(bytes.data(), 1, bytes.size(), in));
  fclose(in);
  auto write = [&](const std::string& name, const std::vector<char>& b) {
    std::string path = dir + "/" + name;
    FILE* out = fopen(path.c_str(), "wb");
    fwrite(b.data(), 1, b.size(), out);
    fclose(out);
    return path;
  };
  std::vector<char> truncated(bytes.begin(), bytes.begin() + 100);
  std::vector<char> bad_offsets = bytes;
  // e_shoff (offset 0x28) pointing past the end of the file.
  uint64_t off = bad_offsets.size() + 4096;
  std::memcpy(bad_offsets.data() + 0x28, &off, 8);
  for (const auto& [name, content, expect] : std::vector<std::tuple<std::string, std::vector<char>, std::string>>{
           {"truncated.ko", truncated, "truncated"}, {"bad_offsets.ko", bad_offsets, "section header table"}}) {
    std::string path = write(name, content);
    for (const std::string& cmd : {"modinfo " + path, "run --isolation inproc " + path, "symbols " + path}) {
      int status;
      std::string out = run(cmd, &status);
      EXPECT_TRUE(WIFEXITED(status)) << cmd << ": did not exit normally";
      EXPECT_EQ(WEXITSTATUS(status), 1) << cmd << "\n" << out;
      EXPECT_NE(out.find(expect), std::string::npos) << cmd << "\n" << out;
    }
  }
}

TEST(Cli, SymbolsMissingListsOnlyMissingNames) {
  int status;
  std::string out = run("symbols " + std::string(SIDE_TEST_MODULES_DIR) + "/side_test_unknown.ko --missing", &status);
  EXPECT_NE(WEXITSTATUS(status), 0);
  EXPECT_EQ(out, "side_test_no_such_function\nside_test_no_such_variable\n");
  out = run("symbols " + std::string(SIDE_TEST_MODULES_DIR) + "/side_test_user.ko --missing", &status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_EQ(out, "");
}

TEST(Inject, CampaignIsSurvivedAndRecovered) {
  int status = -1;
  std::string out =
      run("inject e1000 --faults 12 --types crash,loop,dma,pointer,wild,lostirq --seed 7 --json", &status);
  EXPECT_EQ(status, 0) << out;
  // The summary is the last line (the driver's log comes first on stderr, which run() merges).
  std::string json = out.substr(out.rfind("\n{") + 1);
  EXPECT_NE(json.find("\"faults_requested\":12"), std::string::npos) << json;
  EXPECT_NE(json.find("\"supervisor_survived\":12"), std::string::npos) << json;
  // Every activated fault of these types recovered (the total's ratio is printed last).
  std::string total = json.substr(json.find("\"total\":{"));
  EXPECT_NE(total.find("\"recovery_ratio\":1"), std::string::npos) << total;
  EXPECT_EQ(total.find("\"activated\":0,"), std::string::npos) << total;
  EXPECT_NE(json.find("\"crash\":{\"injected\""), std::string::npos) << json;
}
