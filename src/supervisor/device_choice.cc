#include "supervisor/device_choice.h"

#include <cstdio>
#include <span>
#include <string_view>

#include "loader/dependency_walk.h"
#include "loader/elf_file.h"
#include "loader/module_index.h"

namespace side::supervisor {

bool id_table_names(const std::vector<loader::PciId>& ids, const devices::DeviceModel& m) {
  const pci::Identity& id = m.identity;
  for (const loader::PciId& entry : ids) {
    if (entry.matches(id.vendor_id, id.device_id, id.subsystem_vendor_id, id.subsystem_id, id.class_code)) return true;
  }
  return false;
}

// What a driver's probe refuses that its id table cannot say (an id table has no revision field). Linux 6.1:
// 8139too's rtl8139_init_one returns -ENODEV for a Realtek 8139 of revision 0x20 and up ("use 8139cp");
// 8139cp's cp_init_one for one below 0x20 ("use 8139too").
namespace {

struct RevisionRule {
  std::string_view driver;  // module name, '-' as '_'
  uint16_t vendor, device;
  uint8_t min_revision, max_revision;  // what the probe accepts
};
constexpr RevisionRule kRevisionRules[] = {
    {"8139too", 0x10ec, 0x8139, 0x00, 0x1f},
    {"8139cp", 0x10ec, 0x8139, 0x20, 0xff},
};

const devices::DeviceModel* first_named(const std::vector<loader::PciId>& ids,
                                        std::span<const devices::DeviceModel> models, const std::string& driver) {
  for (const devices::DeviceModel& m : models) {
    if (id_table_names(ids, m) && !probe_refuses(driver, m.identity)) return &m;
  }
  return nullptr;
}

// The PCI functions virtio_pci presents a virtio device as (virtio 1.0, 4.1.2.1): modern 1af4:(1040 + device id),
// and the transitional id of the devices that have one (network 1000, block 1001, ...: device id - 1 + 1000).
std::vector<loader::PciId> virtio_pci_ids(const std::vector<std::string>& aliases) {
  constexpr uint32_t kAny = 0xffffffff;
  std::vector<loader::PciId> out;
  for (const std::string& a : aliases) {
    unsigned device = 0;
    if (!a.starts_with("virtio:d") || std::sscanf(a.c_str() + 8, "%8x", &device) != 1 || device > 0x3f) continue;
    out.push_back(loader::PciId{0x1af4, 0x1040 + device, kAny, kAny, 0, 0});
    if (device >= 1 && device <= 9) out.push_back(loader::PciId{0x1af4, 0x1000 + device - 1, kAny, kAny, 0, 0});
  }
  return out;
}

}  // namespace

std::string module_name_of(const std::string& module) {
  std::string name = module.substr(module.find_last_of('/') + 1);
  for (const char* suffix : {".ko", ".ko.xz", ".ko.zst", ".ko.gz"}) {
    if (name.ends_with(suffix)) {
      name.resize(name.size() - std::string_view(suffix).size());
      break;
    }
  }
  for (char& c : name) c = c == '-' ? '_' : c;
  return name;
}

bool probe_refuses(const std::string& driver, const pci::Identity& id) {
  const std::string name = module_name_of(driver);
  for (const RevisionRule& r : kRevisionRules) {
    if (name != r.driver || id.vendor_id != r.vendor || id.device_id != r.device) continue;
    if (id.revision < r.min_revision || id.revision > r.max_revision) return true;
  }
  return false;
}

Result<const devices::DeviceModel*> device_for_ids(const std::string& driver, const std::vector<loader::PciId>& ids) {
  if (const devices::DeviceModel* m = first_named(ids, devices::device_models(), driver)) return m;
  const std::string available = "side emulates " + devices::describe_device_models();
  if (ids.empty()) return make_error(driver + " has no PCI id table, so no emulated device for it; " + available);
  return make_error("no emulated device matches the " + std::to_string(ids.size()) + " entries of " + driver +
                    "'s PCI id table; " + available);
}

Result<const devices::DeviceModel*> choose_device(const std::string& driver, const std::vector<loader::PciId>& ids,
                                                  const std::string& choice) {
  if (choice == "builtin") return device_for_ids(driver, ids);
  if (choice.empty()) {
    auto builtin = device_for_ids(driver, ids);
    if (builtin) return builtin;
    if (const devices::DeviceModel* m = first_named(ids, devices::qemu_device_models(), driver)) return m;
    return make_error(builtin.error().message + "; QEMU serves " + devices::describe_qemu_models());
  }
  const devices::DeviceModel* m = choice.starts_with("qemu:") ? devices::find_device_model(choice) : nullptr;
  if (!m) return make_error("no device '" + choice + "': --device takes builtin or qemu:MODEL");
  if (id_table_names(ids, *m)) return m;
  return make_error(driver + "'s PCI id table does not name " + choice + " (" + m->description + ")");
}

Result<std::vector<loader::PciId>> pci_ids_of_module(const std::string& modules_dir, const std::string& module) {
  loader::ModuleIndex index(modules_dir);
  auto opened = loader::open_module(index, module);
  if (!opened) return opened.error();
  // A driver for a bus of its own (virtio) binds no PCI function itself: its transport (virtio_pci) binds any
  // virtio function, and the virtio device id in the function's id says which driver it then gets.
  std::vector<loader::PciId> ids = opened->info.pci_ids();
  for (const std::string& transport : opened->info.transports()) {
    auto t = loader::open_module(index, transport);
    if (!t) return t.error();
  }
  for (const loader::PciId& id : virtio_pci_ids(opened->info.all("alias"))) ids.push_back(id);
  return ids;
}

Result<const devices::DeviceModel*> device_for_module(const std::string& modules_dir, const std::string& module,
                                                      const std::string& choice) {
  auto ids = pci_ids_of_module(modules_dir, module);
  if (!ids) return ids.error();
  return choose_device(module, *ids, choice);
}

}  // namespace side::supervisor
