// The device models side can plug into a machine's PCI bus, each under the PCI identity a driver's id table is
// matched against. A driver gets a device because its id table (the module's pci aliases) names one of these, not
// because of its name; a new model (in this process or served by another one) is one more entry here.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "devices/pci/pci_device.h"

namespace side::devices {

// What the supervisor chooses per device instance; a model ignores what does not apply to it.
struct DeviceOptions {
  std::array<uint8_t, 6> mac{0x52, 0x54, 0x00, 0x12, 0x34, 0x56};  // network devices: the burned-in address
  bool link_up = true;                                             // network devices: cable plugged in
  std::string qemu_binary;  // models served by QEMU: its qemu-system-x86_64 with the vfio-user server
  // Disks: the raw image behind the device. Empty: a temporary image in $TMPDIR, removed when the device goes. A
  // named file that does not exist is created with disk_size bytes.
  std::string disk_image;
  uint64_t disk_size = 64ull << 20;
  // Disks: the model reads and writes the image with O_DIRECT (QEMU's cache.direct=on), no host page cache
  // between the device and the file; off: write-back through the page cache (flushes make writes durable).
  bool disk_direct = false;
};

using DeviceFactory =
    std::function<std::unique_ptr<pci::PciDevice>(const pci::DeviceContext& context, const DeviceOptions& options)>;

struct DeviceModel {
  std::string name;         // short, for messages and --help: "e1000"
  std::string description;  // what it emulates: "Intel 82540EM gigabit Ethernet"
  pci::Identity identity;   // as its config space reports it
  DeviceFactory make;
};

// Every model built into side, in order of preference when several match a driver.
std::span<const DeviceModel> device_models();
// QEMU's models, each served by a QEMU process over vfio-user (vfio_user/qemu_models.cc), named "qemu:MODEL".
std::span<const DeviceModel> qemu_device_models();
// "qemu:e1000, qemu:rtl8139, ...": the names --device accepts after "qemu:".
std::string describe_qemu_models();
// A built-in model by name, or a QEMU one by its "qemu:MODEL" name.
const DeviceModel* find_device_model(std::string_view name);
// "e1000 (8086:100e, Intel 82540EM gigabit Ethernet)", one model after another, comma-separated.
std::string describe_device_models();

}  // namespace side::devices
