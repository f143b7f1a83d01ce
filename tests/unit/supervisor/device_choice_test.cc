// A driver gets the device its PCI id table names, whatever the driver is called; a driver side has no device for
// is told which devices there are.
#include "supervisor/device_choice.h"

#include <gtest/gtest.h>

namespace side::supervisor {
namespace {

constexpr uint32_t kAny = 0xffffffff;

loader::PciId id(uint32_t vendor, uint32_t device) {
  return loader::PciId{vendor, device, kAny, kAny, 0, 0};
}

TEST(PciDeviceChoice, TheIdTableChoosesTheModel) {
  auto m = device_for_ids("anything", {id(0x10ec, 0x8139), id(0x8086, 0x100e)});
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ((*m)->identity.vendor_id, 0x8086);
  EXPECT_EQ((*m)->identity.device_id, 0x100e);
}

TEST(PciDeviceChoice, ClassMatchesCountAsTheKernelCountsThem) {
  // Any vendor and device, Ethernet controllers only (class 02/00): the e1000 model is one.
  loader::PciId by_class{kAny, kAny, kAny, kAny, 0x020000, 0xffff00};
  EXPECT_TRUE(device_for_ids("by-class", {by_class}));
  loader::PciId other_class{kAny, kAny, kAny, kAny, 0x010600, 0xffff00};  // SATA AHCI
  EXPECT_FALSE(device_for_ids("ahci", {other_class}));
}

TEST(PciDeviceChoice, DeviceOptionChoosesAmongModelsTheIdTableNames) {
  auto builtin = choose_device("e1000", {id(0x8086, 0x100e)}, "builtin");
  ASSERT_TRUE(builtin) << builtin.error().message;
  EXPECT_EQ((*builtin)->name, "e1000");
  auto qemu = choose_device("e1000", {id(0x8086, 0x100e)}, "qemu:e1000");
  ASSERT_TRUE(qemu) << qemu.error().message;
  EXPECT_EQ((*qemu)->name, "qemu:e1000");
  auto rtl = choose_device("8139too", {id(0x10ec, 0x8139)}, "qemu:rtl8139");
  ASSERT_TRUE(rtl) << rtl.error().message;
  auto wrong = choose_device("e1000", {id(0x8086, 0x100e)}, "qemu:rtl8139");
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("does not name qemu:rtl8139"), std::string::npos) << wrong.error().message;
  EXPECT_FALSE(choose_device("e1000", {id(0x8086, 0x100e)}, "qemu:nosuch"));
  EXPECT_FALSE(choose_device("e1000", {id(0x8086, 0x100e)}, "e1000")) << "--device takes builtin or qemu:MODEL";
}

TEST(PciDeviceChoice, ADriverSideHasNoModelForGetsQemusByDefault) {
  auto m = choose_device("8139cp", {id(0x10ec, 0x8139)}, "");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ((*m)->name, "qemu:rtl8139");
  // Side's own model first: the e1000 keeps the built-in one although QEMU has an e1000 too.
  auto e1000 = choose_device("e1000", {id(0x8086, 0x100e)}, "");
  ASSERT_TRUE(e1000);
  EXPECT_EQ((*e1000)->name, "e1000");
  // builtin: side's own models only.
  EXPECT_FALSE(choose_device("8139cp", {id(0x10ec, 0x8139)}, "builtin"));
  // Nobody's: the error lists side's models and QEMU's.
  auto none = choose_device("nvme", {id(0x144d, 0xa808)}, "");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("side emulates e1000"), std::string::npos) << none.error().message;
  EXPECT_NE(none.error().message.find("QEMU serves qemu:e1000, "), std::string::npos) << none.error().message;
  EXPECT_NE(none.error().message.find("qemu:rtl8139"), std::string::npos) << none.error().message;
}

// The id tables of 8139too and 8139cp both name 10ec:8139; their probes split the chips by revision (0x20 and up is
// a C+). By default each gets the QEMU model its probe accepts; --device still gives the other.
TEST(PciDeviceChoice, TheDefaultIsAModelTheDriversProbeAccepts) {
  auto too = choose_device("8139too", {id(0x10ec, 0x8139)}, "");
  ASSERT_TRUE(too) << too.error().message;
  EXPECT_EQ((*too)->name, "qemu:rtl8139-8139c");
  EXPECT_EQ((*too)->identity.revision, 0x10);
  auto by_path = choose_device("/lib/modules/x/8139too.ko", {id(0x10ec, 0x8139)}, "");
  ASSERT_TRUE(by_path) << by_path.error().message;
  EXPECT_EQ((*by_path)->name, "qemu:rtl8139-8139c");
  auto cp = choose_device("8139cp", {id(0x10ec, 0x8139)}, "");
  ASSERT_TRUE(cp) << cp.error().message;
  EXPECT_EQ((*cp)->name, "qemu:rtl8139");
  EXPECT_EQ((*cp)->identity.revision, 0x20);
  auto asked = choose_device("8139too", {id(0x10ec, 0x8139)}, "qemu:rtl8139");
  ASSERT_TRUE(asked) << asked.error().message;
  EXPECT_EQ((*asked)->name, "qemu:rtl8139");
}

TEST(PciDeviceChoice, RevisionRulesApplyToTheirDriverAndChipOnly) {
  pci::Identity rtl{0x10ec, 0x8139, 0, 0, 0x20, 0x020000, 1};
  EXPECT_TRUE(probe_refuses("8139too", rtl));
  EXPECT_FALSE(probe_refuses("8139cp", rtl));
  rtl.revision = 0x1f;
  EXPECT_FALSE(probe_refuses("8139too", rtl));
  EXPECT_TRUE(probe_refuses("8139cp", rtl));
  pci::Identity other{0x10ec, 0x8138, 0, 0, 0x20, 0x020000, 1};  // not the 8139: no rule
  EXPECT_FALSE(probe_refuses("8139too", other));
  EXPECT_FALSE(probe_refuses("anything", rtl));
  EXPECT_EQ(module_name_of("/a/b/ne2k-pci.ko"), "ne2k_pci");
  EXPECT_EQ(module_name_of("8139too.ko.xz"), "8139too");
  EXPECT_EQ(module_name_of("e1000"), "e1000");
}

TEST(PciDeviceChoice, AnUnknownDeviceNamesTheDriverAndWhatIsAvailable) {
  auto m = device_for_ids("8139too", {id(0x10ec, 0x8139)});
  ASSERT_FALSE(m);
  const std::string& e = m.error().message;
  EXPECT_NE(e.find("8139too"), std::string::npos) << e;
  for (const auto& model : devices::device_models()) {
    EXPECT_NE(e.find(model.name), std::string::npos) << e;
  }
  EXPECT_NE(e.find("8086:100e"), std::string::npos) << e;
}

TEST(PciDeviceChoice, ADriverWithoutIdTableGetsNoDevice) {
  auto m = device_for_ids("side_test_user", {});
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("no PCI id table"), std::string::npos) << m.error().message;
}

TEST(PciDeviceChoice, ReadsTheTableFromTheModuleFile) {
  // Debian's e1000.ko: its MODULE_DEVICE_TABLE (the modinfo "alias=pci:..." lines) names 8086:100e.
  auto e1000 = device_for_module(SIDE_TEST_MODULE_CACHE, "e1000");
  ASSERT_TRUE(e1000) << e1000.error().message;
  EXPECT_EQ((*e1000)->identity.device_id, 0x100e);
  // Debian's 8139too.ko: a real table, for a device side does not emulate itself: QEMU's RTL8139 shown as the
  // RTL8139C its probe accepts by default, none among side's own models.
  auto rtl = device_for_module(SIDE_TEST_MODULE_CACHE, "8139too");
  ASSERT_TRUE(rtl) << rtl.error().message;
  EXPECT_EQ((*rtl)->name, "qemu:rtl8139-8139c");
  rtl = device_for_module(SIDE_TEST_MODULE_CACHE, "8139too", "builtin");
  ASSERT_FALSE(rtl);
  EXPECT_NE(rtl.error().message.find("8139too's PCI id table"), std::string::npos) << rtl.error().message;
  EXPECT_NE(rtl.error().message.find("8086:100e"), std::string::npos) << rtl.error().message;
  // A module without MODULE_DEVICE_TABLE, and one that does not exist.
  auto none = device_for_module(SIDE_TEST_MODULES_DIR, "side_test_user");
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("no PCI id table"), std::string::npos) << none.error().message;
  EXPECT_FALSE(device_for_module(SIDE_TEST_MODULES_DIR, "no_such_module"));
}

// virtio_net binds no PCI function itself (its table is virtio's); its transport virtio_pci names Red Hat's
// vendor id, so it gets QEMU's virtio-net-pci, the only such model.
TEST(PciDeviceChoice, AVirtioDriverGetsTheDeviceItsTransportNames) {
  auto m = choose_device("virtio_net", {loader::PciId{0x1af4, kAny, kAny, kAny, 0, 0}}, "");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ((*m)->name, "qemu:virtio-net-pci");
}

// Through the modules themselves: a virtio driver gets the function of its own virtio device id (virtio_pci binds
// every Red Hat function, so the transport's table alone would give virtio_blk the network device).
TEST(PciDeviceChoice, VirtioDriversGetTheFunctionOfTheirVirtioDevice) {
  auto net = device_for_module(SIDE_TEST_MODULE_CACHE, "virtio_net");
  ASSERT_TRUE(net) << net.error().message;
  EXPECT_EQ((*net)->name, "qemu:virtio-net-pci");
  auto blk = device_for_module(SIDE_TEST_MODULE_CACHE, "virtio_blk");
  ASSERT_TRUE(blk) << blk.error().message;
  EXPECT_EQ((*blk)->name, "qemu:virtio-blk-pci");
  EXPECT_FALSE(device_for_module(SIDE_TEST_MODULE_CACHE, "virtio_blk", "qemu:virtio-net-pci"));
}

// nvme's table names Red Hat's 1b36:0010 (QEMU's controller) and the NVM Express class 01:08:02; either is
// QEMU's nvme, and no NIC model passes for it.
TEST(PciDeviceChoice, NvmeGetsQemusNvmExpressController) {
  auto m = device_for_module(SIDE_TEST_MODULE_CACHE, "nvme");
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ((*m)->name, "qemu:nvme");
  EXPECT_EQ((*m)->identity.class_code, 0x010802u);
  auto by_class = choose_device("nvme", {loader::PciId{kAny, kAny, kAny, kAny, 0x010802, 0xffffff}}, "");
  ASSERT_TRUE(by_class) << by_class.error().message;
  EXPECT_EQ((*by_class)->name, "qemu:nvme");
  EXPECT_FALSE(device_for_module(SIDE_TEST_MODULE_CACHE, "nvme", "qemu:virtio-blk-pci"));
}

}  // namespace
}  // namespace side::supervisor
