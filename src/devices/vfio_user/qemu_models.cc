// QEMU's PCI models side can drive over vfio-user (network devices and disks), under the identity QEMU 7.2 gives each
// (hw/net/*.c: vendor, device and revision; QEMU's default subsystem 1af4:1100). A driver's id table is matched against
// these before QEMU runs; the device checks, once QEMU serves it, that it is the function announced.
#include <optional>
#include <vector>

#include "common/log.h"
#include "devices/device_models.h"
#include "devices/vfio_user/qemu_disk.h"
#include "devices/vfio_user/qemu_nic.h"

namespace side::devices {
namespace {

// Generous for a loaded machine: a register round trip takes ~30 us, a stalled QEMU is a fault after this long.
constexpr std::chrono::milliseconds kExchangeTimeout{2000};

// `name` is the model's (qemu:NAME); `device` is QEMU's -device for it, with any properties beyond the defaults
// (",name=value..."). With `shown_revision`, the firmware (the supervisor) presents that revision in config space
// instead of QEMU's (VfioUserDevice::present_revision).
DeviceModel qemu_nic(const char* name, std::string device, const char* description, uint16_t vendor, uint16_t device_id,
                     uint8_t revision, std::optional<uint8_t> shown_revision = std::nullopt,
                     vfio_user::ModelQuirks quirks = {}) {
  DeviceModel m;
  m.name = std::string("qemu:") + name;
  m.description = std::string(description) + " (QEMU's model, over vfio-user)";
  m.identity = pci::Identity{vendor, device_id, 0x1af4, 0x1100, shown_revision.value_or(revision), 0x020000, 1};
  m.make = [name, device, vendor, device_id, shown_revision, quirks](
               const pci::DeviceContext& context, const DeviceOptions& options) -> std::unique_ptr<pci::PciDevice> {
    vfio_user::QemuConfig config;
    config.binary = options.qemu_binary;
    config.device = device;
    config.mac = options.mac;
    auto nic = vfio_user::QemuNic::create(context, config, vendor, device_id, kExchangeTimeout);
    if (!nic) {
      logf(LogLevel::kError, "side: qemu:%s: %s", name, nic.error().message.c_str());
      return nullptr;
    }
    if (shown_revision) (*nic)->present_revision(*shown_revision);
    (*nic)->set_quirks(quirks);
    return std::move(*nic);
  };
  return m;
}

// A model under QEMU's own name and identity, with `options` appended to its -device.
DeviceModel qemu_nic(const char* device, const char* description, uint16_t vendor, uint16_t device_id, uint8_t revision,
                     const char* options = "") {
  return qemu_nic(device, std::string(device) + options, description, vendor, device_id, revision);
}

// A disk model: QEMU's `device` with its drive on the configured image (DeviceOptions::disk_image), of PCI class
// `class_code` (class, subclass, programming interface).
DeviceModel qemu_disk(const char* device, const char* description, uint16_t vendor, uint16_t device_id,
                      uint8_t revision, const char* properties, uint32_t class_code = 0x010000) {
  DeviceModel m;
  m.name = std::string("qemu:") + device;
  m.description = std::string(description) + " (QEMU's model, over vfio-user)";
  m.identity = pci::Identity{vendor, device_id, 0x1af4, 0x1100, revision, class_code, 1};
  const std::string qemu_device = std::string(device) + properties;
  m.make = [device, qemu_device, vendor, device_id](const pci::DeviceContext& context,
                                                    const DeviceOptions& options) -> std::unique_ptr<pci::PciDevice> {
    vfio_user::QemuConfig config;
    config.binary = options.qemu_binary;
    config.device = qemu_device;
    config.network = false;
    config.disk = true;
    config.disk_direct = options.disk_direct;
    vfio_user::DiskImage image{options.disk_image, options.disk_size};
    auto disk = vfio_user::QemuDisk::create(context, config, image, vendor, device_id, kExchangeTimeout);
    if (!disk) {
      logf(LogLevel::kError, "side: qemu:%s: %s", device, disk.error().message.c_str());
      return nullptr;
    }
    return std::move(*disk);
  };
  return m;
}

}  // namespace

std::span<const DeviceModel> qemu_device_models() {
  static const std::vector<DeviceModel> all{
      qemu_nic("e1000", "Intel 82540EM gigabit Ethernet", 0x8086, 0x100e, 0x03),
      qemu_nic("e1000-82545em", "Intel 82545EM gigabit Ethernet", 0x8086, 0x100f, 0x03),
      qemu_nic("rtl8139", "Realtek RTL8139C+ Fast Ethernet", 0x10ec, 0x8139, 0x20),
      // The same QEMU model shown as an RTL8139C (revision 0x10, QEMU's compile-time RTL8139_PCI_REVID_8139): QEMU
      // implements the classic 8139 mode (receive ring buffer, four transmit slots) beside C+ mode, and 8139too,
      // which refuses revision 0x20 and up ("use 8139cp"), drives that mode. Only the revision byte differs from
      // QEMU's; the chip version in TxConfig still reads RTL-8139C+. That mode needs rtl8139_flush_on_unmask.
      qemu_nic("rtl8139-8139c", "rtl8139", "Realtek RTL8139C Fast Ethernet: QEMU's RTL8139C+ shown as revision 0x10",
               0x10ec, 0x8139, 0x20, 0x10, {.rewrite_after_write = vfio_user::rtl8139_flush_on_unmask}),
      qemu_nic("ne2k_pci", "Realtek RTL8029 (NE2000) Ethernet", 0x10ec, 0x8029, 0x00),
      qemu_nic("pcnet", "AMD PCnet-PCI II Ethernet", 0x1022, 0x2000, 0x10),
      qemu_nic("e1000e", "Intel 82574L gigabit Ethernet (PCIe, MSI-X)", 0x8086, 0x10d3, 0x00),
      // Modern only (virtio 1.0, 1af4:1041 revision 1): virtio_pci's modern transport, memory BARs only. QEMU's
      // remote machine puts the device behind an IOMMU (its vfio-user DMA space), which virtio requires to be
      // announced: VIRTIO_F_ACCESS_PLATFORM makes virtio_ring use the DMA API, so rings and buffers are mapped.
      qemu_nic("virtio-net-pci", "virtio network device", 0x1af4, 0x1041, 0x01, ",disable-legacy=on,iommu_platform=on"),
      // QEMU's tulip.c: revision 0 (not set; QEMU's subsystem for it is HP's 103c:104f).
      qemu_nic("tulip", "DEC 21143 Fast Ethernet (Tulip)", 0x1011, 0x0019, 0x00),
      // QEMU's vmxnet3.c: revision 1, MSI-X (the driver allocates 3 vectors: two queue pairs and events).
      qemu_nic("vmxnet3", "vmxnet3", "VMware VMXNET3 paravirtual Ethernet (MSI-X)", 0x15ad, 0x07b0, 0x01, std::nullopt,
               {.write_waits = vfio_user::vmxnet3_command_waits}),
      // Modern only, as virtio-net-pci (1af4:1042: virtio device 2, block), behind QEMU's IOMMU: virtio_blk maps
      // every request's header, data and status through the DMA API.
      qemu_disk("virtio-blk-pci", "virtio block device", 0x1af4, 0x1042, 0x01, ",disable-legacy=on,iommu_platform=on"),
      // QEMU's hw/nvme (nvme_init_pci): Red Hat's 1b36:0010, revision 2, class 01:08:02 (NVM Express), registers,
      // doorbells and the MSI-X table and PBA in BAR0 (64-bit). A serial number is mandatory; the drive is the
      // namespace (nsid 1). Its MSI-X vectors are its queues' (max_ioqpairs + 1); nvme asks for one per CPU plus
      // the admin queue's. The Linux driver matches it by class.
      qemu_disk("nvme", "NVM Express controller", 0x1b36, 0x0010, 0x02, ",serial=side-nvme0", 0x010802),
  };
  return all;
}

std::string describe_qemu_models() {
  std::string out;
  for (const DeviceModel& m : qemu_device_models()) out += (out.empty() ? "" : ", ") + m.name;
  return out;
}

}  // namespace side::devices
