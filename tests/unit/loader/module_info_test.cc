// Module metadata: .modinfo fields, parameters, __versions, depends and PCI aliases.
#include "loader/module_info.h"

#include <gtest/gtest.h>

using namespace side::loader;

namespace {
ModuleInfo info_of(const std::string& name) {
  auto elf = ElfFile::read(std::string(SIDE_TEST_MODULES_DIR) + "/" + name + ".ko");
  EXPECT_TRUE(elf) << (elf ? "" : elf.error().message);
  auto info = read_module_info(*elf);
  EXPECT_TRUE(info) << (info ? "" : info.error().message);
  return *info;
}
}  // namespace

TEST(ModuleInfo, ReadsFieldsAndParameters) {
  ModuleInfo info = info_of("side_test_params");
  EXPECT_EQ(info.name, "side_test_params");
  EXPECT_EQ(info.get("license"), "GPL");
  EXPECT_EQ(info.get("description"), "side test: module parameters");
  EXPECT_FALSE(info.get("vermagic").empty());
  ASSERT_EQ(info.parameters.size(), 5u);
  bool found = false;
  for (const auto& p : info.parameters) {
    if (p.name == "list") {
      EXPECT_EQ(p.type, "array of int");
      EXPECT_EQ(p.description, "Up to four integers");
      found = true;
    }
  }
  EXPECT_TRUE(found);
  EXPECT_FALSE(info.versions.empty());
}

TEST(ModuleInfo, ReadsDepends) {
  EXPECT_EQ(info_of("side_test_user").depends(), std::vector<std::string>{"side_test_base"});
  EXPECT_TRUE(info_of("side_test_base").depends().empty());
}

// A virtio driver binds devices virtio_pci adds: that transport is loaded with it; a PCI driver needs none.
TEST(ModuleInfo, AVirtioDriverNeedsTheVirtioPciTransport) {
  ModuleInfo virtio_driver;
  virtio_driver.fields.emplace("alias", "virtio:d00000001v*");
  EXPECT_EQ(virtio_driver.transports(), std::vector<std::string>{"virtio_pci"});
  EXPECT_TRUE(info_of("side_test_user").transports().empty());
}

TEST(ModuleInfo, ParsesPciAliases) {
  auto id = parse_pci_alias("pci:v00008086d0000100Esv*sd*bc*sc*i*");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->vendor, 0x8086u);
  EXPECT_EQ(id->device, 0x100eu);
  EXPECT_EQ(id->subvendor, 0xffffffffu);
  EXPECT_EQ(id->class_mask, 0u);
  auto cls = parse_pci_alias("pci:v*d*sv*sd*bc02sc00i*");
  ASSERT_TRUE(cls);
  EXPECT_EQ(cls->class_code, 0x020000u);
  EXPECT_EQ(cls->class_mask, 0xffff00u);
  EXPECT_FALSE(parse_pci_alias("pci:x1234"));
  EXPECT_FALSE(parse_pci_alias("pci:v0000"));
}

TEST(ModuleInfo, PciIdsMatchAsTheKernelMatches) {
  auto exact = *parse_pci_alias("pci:v00008086d0000100Esv*sd*bc*sc*i*");
  EXPECT_TRUE(exact.matches(0x8086, 0x100e, 0x8086, 0x001e, 0x020000));
  EXPECT_FALSE(exact.matches(0x8086, 0x100f, 0x8086, 0x001e, 0x020000));
  EXPECT_FALSE(exact.matches(0x10ec, 0x100e, 0x8086, 0x001e, 0x020000));
  auto by_class = *parse_pci_alias("pci:v*d*sv*sd*bc02sc00i*");
  EXPECT_TRUE(by_class.matches(0x1234, 0x5678, 0, 0, 0x020000));
  EXPECT_TRUE(by_class.matches(0x1234, 0x5678, 0, 0, 0x020001));  // the programming interface is not compared
  EXPECT_FALSE(by_class.matches(0x1234, 0x5678, 0, 0, 0x030000));
}
