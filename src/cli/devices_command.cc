// side devices [--drivers] [--json]: the device models side can give a driver (devices/device_models.h), and with
// --drivers the Debian modules in the module cache whose PCI id table matches each one.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/json.h"
#include "devices/device_models.h"
#include "loader/elf_file.h"
#include "loader/module_index.h"
#include "loader/module_info.h"
#include "supervisor/device_choice.h"

namespace side::cli {

void devices_usage(FILE* out) {
  std::fprintf(out,
               "usage: side devices [--drivers] [--json]\n"
               "  the device models side can plug into a driver's machine (its own, then QEMU's over vfio-user):\n"
               "  name, PCI id, class, description\n"
               "  --drivers            also the modules of the module cache whose PCI id table matches each model\n"
               "                       (less those whose probe refuses its revision)\n"
               "                       (reads every module: a few seconds)\n"
               "  --json               one JSON document (schema side-devices/1)\n");
}

namespace {

std::string hex(unsigned value, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%0*x", digits, value);
  return buf;
}

// The modules of the cache whose id table names `m`, as the kernel's PCI core would bind them (names sorted), less
// those whose probe refuses it by revision (8139too and a C+, 8139cp and an older RTL8139).
std::vector<std::string> matching_modules(loader::ModuleIndex& index, const std::vector<std::string>& names,
                                          const devices::DeviceModel& m) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    auto path = index.resolve(name);
    if (!path) continue;
    auto elf = loader::ElfFile::read(*path);
    if (!elf) continue;
    auto info = loader::read_module_info(*elf);
    if (!info) continue;
    if (supervisor::id_table_names(info->pci_ids(), m) && !supervisor::probe_refuses(name, m.identity))
      out.push_back(name);
  }
  return out;
}

}  // namespace

int devices_command(const DevicesArgs& args) {
  loader::ModuleIndex index(Paths::from_environment().modules_dir);
  std::vector<std::string> names;
  if (args.drivers) {
    auto all = index.names();
    if (!all) {
      std::fprintf(stderr, "side devices: %s\n", all.error().message.c_str());
      return 1;
    }
    names = std::move(*all);
  }
  Json j;
  j.object_begin().field("schema", kDevicesSchema).key("devices").array_begin();
  std::vector<const devices::DeviceModel*> models;
  for (const devices::DeviceModel& m : devices::device_models()) models.push_back(&m);
  for (const devices::DeviceModel& m : devices::qemu_device_models()) models.push_back(&m);
  for (const devices::DeviceModel* model : models) {
    const devices::DeviceModel& m = *model;
    const pci::Identity& d = m.identity;
    const std::string id = hex(d.vendor_id, 4) + ":" + hex(d.device_id, 4);
    const std::string cls = hex(d.class_code, 6);
    std::vector<std::string> drivers;
    if (args.drivers) drivers = matching_modules(index, names, m);
    if (args.json) {
      j.object_begin().field("name", m.name).field("description", m.description).field("pci_id", id);
      j.field("vendor", uint32_t{d.vendor_id}).field("device", uint32_t{d.device_id});
      j.field("subvendor", uint32_t{d.subsystem_vendor_id}).field("subdevice", uint32_t{d.subsystem_id});
      j.field("class", d.class_code);
      if (args.drivers) {
        j.key("drivers").array_begin();
        for (const auto& n : drivers) j.value(n);
        j.array_end();
      }
      j.object_end();
    } else {
      std::printf("%-13s %s  class %s  %s", m.name.c_str(), id.c_str(), cls.c_str(), m.description.c_str());
      if (args.drivers) {
        std::printf("; drivers:");
        for (const auto& n : drivers) std::printf(" %s", n.c_str());
        if (drivers.empty()) std::printf(" none in %s", index.directory().c_str());
      }
      std::printf("\n");
    }
  }
  j.array_end().object_end();
  if (args.json) std::printf("%s\n", j.str().c_str());
  return 0;
}

}  // namespace side::cli
