#include "conformance/matrix.h"

#include <algorithm>

namespace side::conformance {
namespace {

std::string module_key(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

bool names(const std::string& item, const MatrixEntry& e) {
  const size_t at = item.find('@');
  if (module_key(item.substr(0, at)) != module_key(e.module)) return false;
  return at == std::string::npos || item.substr(at + 1) == e.device;
}

}  // namespace

std::span<const MatrixEntry> nic_matrix() {
  // Each driver on the device its PCI id table names: e1000 on side's own model and on QEMU's (an independent
  // model of the same chip), then QEMU's models for the drivers side has no model for.
  static const std::vector<MatrixEntry> rows{
      {"e1000", "builtin"},
      {"e1000", "qemu:e1000"},
      {"8139too", "qemu:rtl8139-8139c"},
      {"8139cp", "qemu:rtl8139"},
      {"ne2k-pci", "qemu:ne2k_pci"},
      {"pcnet32", "qemu:pcnet"},
      {"e1000e", "qemu:e1000e"},
      {"virtio_net", "qemu:virtio-net-pci"},
      {"tulip", "qemu:tulip"},
      {"vmxnet3", "qemu:vmxnet3"},
  };
  return rows;
}

Result<std::vector<MatrixEntry>> select_rows(const std::vector<std::string>& items) {
  for (const auto& item : items) {
    if (std::none_of(nic_matrix().begin(), nic_matrix().end(), [&](const auto& e) { return names(item, e); })) {
      std::string all;
      for (const auto& e : nic_matrix()) all += (all.empty() ? "" : ", ") + e.name();
      return make_error("no row of the matrix is '" + item + "' (rows: " + all + ")");
    }
  }
  std::vector<MatrixEntry> out;
  for (const auto& e : nic_matrix()) {
    if (items.empty() || std::any_of(items.begin(), items.end(), [&](const auto& i) { return names(i, e); }))
      out.push_back(e);
  }
  return out;
}

}  // namespace side::conformance
