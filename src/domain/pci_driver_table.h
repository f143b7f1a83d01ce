// The PCI drivers registered in a domain (pci_register_driver), and which of them binds a device: the first whose
// id table matches, as the kernel's PCI core decides.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kapi/side_host.h"
#include "loader/module_info.h"

namespace side::domain {

struct PciDriver {
  uint64_t driver = 0;  // struct pci_driver in the domain
  std::string name;
  std::string module;
  std::vector<loader::PciId> ids;
};

class PciDriverTable {
 public:
  // 0, or -EBUSY when a driver of that name is registered already. `ids` holds `n` entries (the kernel-API
  // layer's copy of the driver's table, bounded there).
  int add(uint64_t driver, const char* name, std::string module, const side_pci_id* ids, unsigned n);
  void remove(uint64_t driver);
  std::vector<PciDriver> list() const;
  std::optional<PciDriver> match(uint16_t vendor, uint16_t device, uint16_t subvendor, uint16_t subdevice,
                                 uint32_t class_code) const;

 private:
  mutable std::mutex mutex_;
  std::vector<PciDriver> drivers_;
};

}  // namespace side::domain
