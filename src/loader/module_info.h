// What a module says about itself: the .modinfo key=value strings, its __versions table (the CRC of every kernel
// symbol it was built against) and its parameter descriptions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "loader/elf_file.h"

namespace side::loader {

struct SymbolVersion {
  std::string name;
  uint32_t crc = 0;
};

struct ParameterInfo {
  std::string name;
  std::string type;         // from parmtype=, e.g. "int", "array of int"
  std::string description;  // from parm=
};

struct PciId {
  uint32_t vendor = 0, device = 0, subvendor = 0, subdevice = 0;  // 0xffffffff: any (PCI_ANY_ID)
  uint32_t class_code = 0, class_mask = 0;

  // Whether a device with these ids matches, as the kernel's pci_match_one_device() decides.
  bool matches(uint16_t dev_vendor, uint16_t dev_device, uint16_t dev_subvendor, uint16_t dev_subdevice,
               uint32_t dev_class) const {
    constexpr uint32_t kAny = 0xffffffff;
    return (vendor == kAny || vendor == dev_vendor) && (device == kAny || device == dev_device) &&
           (subvendor == kAny || subvendor == dev_subvendor) && (subdevice == kAny || subdevice == dev_subdevice) &&
           ((class_code ^ dev_class) & class_mask) == 0;
  }
};

struct ModuleInfo {
  std::string name;  // from .gnu.linkonce.this_module's name field when present, else modinfo "name"
  std::multimap<std::string, std::string> fields;
  std::vector<std::pair<std::string, std::string>> entries;  // .modinfo in file order
  std::vector<SymbolVersion> versions;
  std::vector<ParameterInfo> parameters;

  std::string get(const std::string& key) const;  // first value or ""
  std::vector<std::string> all(const std::string& key) const;
  std::vector<std::string> depends() const;  // normalized names, empty entries dropped
  std::vector<PciId> pci_ids() const;        // decoded from "alias=pci:v…d…sv…sd…bc…sc…i…"
  // Modules that put devices on the bus this module's drivers bind to, which modprobe gets loaded through udev
  // (the device's own modalias) and side loads with the module: a virtio driver ("alias=virtio:…") needs
  // virtio_pci, which binds the PCI function and adds the virtio device.
  std::vector<std::string> transports() const;
};

Result<ModuleInfo> read_module_info(const ElfFile& elf);

// Parses one modalias of the form pci:vVVVVVVVVdDDDDDDDDsvSSSSSSSSsdDDDDDDDDbcBBscSSiII (with '*' wildcards).
Result<PciId> parse_pci_alias(const std::string& alias);

}  // namespace side::loader
