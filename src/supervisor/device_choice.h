// Which emulated device backs a driver: the first device model (devices/device_models.h) whose PCI identity the
// driver's own id table matches, as the kernel's PCI core would bind it. The id table is read from the module file
// (its "alias=pci:..." modinfo entries, which modpost generates from MODULE_DEVICE_TABLE), before anything of the
// driver runs; the driver's name plays no part.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "devices/device_models.h"
#include "loader/module_info.h"

namespace side::supervisor {

// Whether a driver with PCI id table `ids` would bind to model `m`, as the kernel's PCI core matches them.
bool id_table_names(const std::vector<loader::PciId>& ids, const devices::DeviceModel& m);

// A module's name as modprobe compares them, from a name or a path: "8139-too.ko" -> "8139_too".
std::string module_name_of(const std::string& module);

// Whether `driver`'s probe refuses a device its id table names, for a reason the table cannot express (the
// revision: 8139too refuses an RTL8139C+, 8139cp anything older). The default choice skips such models.
bool probe_refuses(const std::string& driver, const pci::Identity& id);

// The built-in model `ids` match (and the driver's probe accepts), or an error naming the driver and listing the models
// side has.
Result<const devices::DeviceModel*> device_for_ids(const std::string& driver, const std::vector<loader::PciId>& ids);

// What `side run --device` asked for: "" (side's own model the id table matches, else the first of QEMU's; in both,
// one the driver's probe does not refuse),
// "builtin" (side's own models only) or "qemu:MODEL" (that QEMU model, which the id table must match). Errors name
// the driver and the choices.
Result<const devices::DeviceModel*> choose_device(const std::string& driver, const std::vector<loader::PciId>& ids,
                                                  const std::string& choice);

// Resolves `module` (a name or path) in `modules_dir` as the loader does and reads its id table.
Result<std::vector<loader::PciId>> pci_ids_of_module(const std::string& modules_dir, const std::string& module);

// The model `module`'s id table matches (pci_ids_of_module, then device_for_ids).
Result<const devices::DeviceModel*> device_for_module(const std::string& modules_dir, const std::string& module,
                                                      const std::string& choice = "");

}  // namespace side::supervisor
