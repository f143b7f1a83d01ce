// The matrix and --drivers: a driver names all its rows, DRIVER@DEVICE one, '-' and '_' are the same, an unknown
// item is refused with the list of rows.
#include "conformance/matrix.h"

#include <gtest/gtest.h>

namespace side::conformance {
namespace {

TEST(ConformanceMatrix, HoldsIssue14sRowsInOrder) {
  std::vector<std::string> names;
  for (const auto& e : nic_matrix()) names.push_back(e.name());
  EXPECT_EQ(names, (std::vector<std::string>{"e1000@builtin", "e1000@qemu:e1000", "8139too@qemu:rtl8139-8139c",
                                             "8139cp@qemu:rtl8139", "ne2k-pci@qemu:ne2k_pci", "pcnet32@qemu:pcnet",
                                             "e1000e@qemu:e1000e", "virtio_net@qemu:virtio-net-pci", "tulip@qemu:tulip",
                                             "vmxnet3@qemu:vmxnet3"}));
}

TEST(ConformanceMatrix, NoItemsIsEveryRow) {
  auto rows = select_rows({});
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->size(), nic_matrix().size());
}

TEST(ConformanceMatrix, ADriverNamesEachOfItsRows) {
  auto rows = select_rows({"8139cp", "e1000"});
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);  // the matrix's order, not the list's
  EXPECT_EQ((*rows)[0].name(), "e1000@builtin");
  EXPECT_EQ((*rows)[1].name(), "e1000@qemu:e1000");
  EXPECT_EQ((*rows)[2].name(), "8139cp@qemu:rtl8139");
}

TEST(ConformanceMatrix, OneRowByDriverAndDevice) {
  auto rows = select_rows({"e1000@qemu:e1000", "ne2k_pci", "virtio-net"});
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].name(), "e1000@qemu:e1000");
  EXPECT_EQ((*rows)[1].module, "ne2k-pci");
  EXPECT_EQ((*rows)[2].module, "virtio_net");
}

TEST(ConformanceMatrix, AnUnknownItemIsRefusedWithTheRows) {
  for (const char* item : {"forcedeth", "e1000@qemu:rtl8139", "", "e1000@"}) {
    auto rows = select_rows({item});
    ASSERT_FALSE(rows) << item;
    EXPECT_NE(rows.error().message.find("e1000@builtin"), std::string::npos) << rows.error().message;
  }
}

}  // namespace
}  // namespace side::conformance
