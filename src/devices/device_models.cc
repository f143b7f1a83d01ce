#include "devices/device_models.h"

#include <cstdio>
#include <vector>

#include "devices/e1000/e1000.h"

namespace side::devices {
namespace {

DeviceModel e1000_model() {
  const e1000::Config defaults;
  DeviceModel m;
  m.name = "e1000";
  m.description = "Intel 82540EM gigabit Ethernet";
  m.identity = e1000::make_identity(defaults);
  m.make = [](const pci::DeviceContext& context, const DeviceOptions& options) -> std::unique_ptr<pci::PciDevice> {
    e1000::Config config;
    config.mac = options.mac;
    config.link_up = options.link_up;
    return std::make_unique<e1000::E1000>(context, std::move(config));
  };
  return m;
}

const std::vector<DeviceModel>& models() {
  static const std::vector<DeviceModel> all{e1000_model()};
  return all;
}

}  // namespace

std::span<const DeviceModel> device_models() {
  return models();
}

const DeviceModel* find_device_model(std::string_view name) {
  for (const DeviceModel& m : models()) {
    if (m.name == name) return &m;
  }
  for (const DeviceModel& m : qemu_device_models()) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::string describe_device_models() {
  std::string out;
  for (const DeviceModel& m : models()) {
    char ids[16];
    std::snprintf(ids, sizeof ids, "%04x:%04x", m.identity.vendor_id, m.identity.device_id);
    if (!out.empty()) out += ", ";
    out += m.name + " (" + ids + ", " + m.description + ")";
  }
  return out;
}

}  // namespace side::devices
