#include "supervisor/device_choice.h"

#include "loader/dependency_walk.h"
#include "loader/elf_file.h"
#include "loader/module_index.h"

namespace side::supervisor {

Result<const devices::DeviceModel*> device_for_ids(const std::string& driver, const std::vector<loader::PciId>& ids) {
  for (const devices::DeviceModel& m : devices::device_models()) {
    const pci::Identity& id = m.identity;
    for (const loader::PciId& entry : ids) {
      if (entry.matches(id.vendor_id, id.device_id, id.subsystem_vendor_id, id.subsystem_id, id.class_code)) {
        return &m;
      }
    }
  }
  const std::string available = "side emulates " + devices::describe_device_models();
  if (ids.empty()) return make_error(driver + " has no PCI id table, so no emulated device for it; " + available);
  return make_error("no emulated device matches the " + std::to_string(ids.size()) + " entries of " + driver +
                    "'s PCI id table; " + available);
}

Result<const devices::DeviceModel*> choose_device(const std::string& driver, const std::vector<loader::PciId>& ids,
                                                  const std::string& choice) {
  if (choice.empty() || choice == "builtin") return device_for_ids(driver, ids);
  const devices::DeviceModel* m = choice.starts_with("qemu:") ? devices::find_device_model(choice) : nullptr;
  if (!m) return make_error("no device '" + choice + "': --device takes builtin or qemu:MODEL");
  const pci::Identity& id = m->identity;
  for (const loader::PciId& entry : ids) {
    if (entry.matches(id.vendor_id, id.device_id, id.subsystem_vendor_id, id.subsystem_id, id.class_code)) return m;
  }
  return make_error(driver + "'s PCI id table does not name " + choice + " (" + m->description + ")");
}

Result<std::vector<loader::PciId>> pci_ids_of_module(const std::string& modules_dir, const std::string& module) {
  loader::ModuleIndex index(modules_dir);
  auto opened = loader::open_module(index, module);
  if (!opened) return opened.error();
  return opened->info.pci_ids();
}

Result<const devices::DeviceModel*> device_for_module(const std::string& modules_dir, const std::string& module,
                                                      const std::string& choice) {
  auto ids = pci_ids_of_module(modules_dir, module);
  if (!ids) return ids.error();
  return choose_device(module, *ids, choice);
}

}  // namespace side::supervisor
