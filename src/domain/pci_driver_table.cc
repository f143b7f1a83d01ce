#include "domain/pci_driver_table.h"

#include <cerrno>

namespace side::domain {

int PciDriverTable::add(uint64_t driver, const char* name, std::string module, const side_pci_id* ids, unsigned n) {
  PciDriver d;
  d.driver = driver;
  d.name = name;
  d.module = std::move(module);
  for (unsigned i = 0; i < n; ++i) {
    d.ids.push_back(
        {ids[i].vendor, ids[i].device, ids[i].subvendor, ids[i].subdevice, ids[i].class_code, ids[i].class_mask});
  }
  std::lock_guard lock(mutex_);
  for (const auto& existing : drivers_) {
    if (existing.name == d.name) return -EBUSY;
  }
  drivers_.push_back(std::move(d));
  return 0;
}

void PciDriverTable::remove(uint64_t driver) {
  std::lock_guard lock(mutex_);
  std::erase_if(drivers_, [&](const PciDriver& d) { return d.driver == driver; });
}

std::vector<PciDriver> PciDriverTable::list() const {
  std::lock_guard lock(mutex_);
  return drivers_;
}

std::optional<PciDriver> PciDriverTable::match(uint16_t vendor, uint16_t device, uint16_t subvendor, uint16_t subdevice,
                                               uint32_t class_code) const {
  std::lock_guard lock(mutex_);
  for (const auto& d : drivers_) {
    for (const auto& id : d.ids) {
      if (id.matches(vendor, device, subvendor, subdevice, class_code)) return d;
    }
  }
  return std::nullopt;
}

}  // namespace side::domain
