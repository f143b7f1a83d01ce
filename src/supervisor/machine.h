// The emulated machine a domain's drivers run on: a PCI bus of device models (any pci::PciDevice: see
// devices/device_models.h) with their BARs and interrupt lines, one software IOMMU per slot (through which every
// DMA of the device model passes), device timers, and the host side of the network devices the drivers register.
// For a domain in this process it is the domain's Platform.
//
// Everything a driver passes in is validated here: device numbers, config offsets and widths, BAR offsets, DMA
// ranges and directions. Nothing that came from the domain is ever dereferenced.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "devices/device_models.h"
#include "devices/iommu/iommu.h"
#include "devices/net/nic.h"
#include "domain/platform.h"
#include "supervisor/dma_permissions.h"
#include "supervisor/driver_domain.h"

namespace side::supervisor {

// What the host side of a network device hears from the driver. Called on the domain's virtual CPUs: do not
// block, and never call back into the domain's driver code.
class NetListener : public domain::FrameReceiver {
 public:
  virtual void netdev_registered(const side_netdev_info& /*info*/) {}
  virtual void netdev_unregistered(uint64_t /*token*/) {}
  virtual void carrier(uint64_t /*token*/, bool /*on*/) {}
  virtual void netdev_changed(const side_netdev_info& /*info*/) {}
  virtual void tx_wake(uint64_t /*token*/) {}
  // rx (domain::FrameReceiver): the domain hands frames to the listener directly once it is the domain's frame
  // receiver (DriverDomain::set_frame_receiver); until then they come through here (Machine::netdev_rx).
};

// Where completions of block requests go (the disk the supervisor exports, session/driver_disk.h). Called on the
// thread that serves the domain's channel: do not block, never call back into the domain.
class BlockListener {
 public:
  virtual ~BlockListener() = default;
  virtual void block_done(uint64_t tag, int32_t status) = 0;
};

struct NetdevState {
  side_netdev_info info{};
  bool registered = false;
  bool carrier = false;
};

class Machine final : public domain::Platform {
 public:
  static constexpr size_t kMaxDevices = 8;

  explicit Machine(DriverDomain& domain);
  ~Machine() override;
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Builds `model` into the next PCI slot (its DMA through that slot's IOMMU), assigns its BARs and interrupt
  // line as firmware would, and attaches it to the domain. Returns its device number.
  Result<uint32_t> add_device(const devices::DeviceModel& model, const devices::DeviceOptions& options = {});

  pci::PciDevice& device(uint32_t device) { return *slots_.at(device)->device; }
  // The network side of a device; null if it is not a network device.
  net::Nic* nic(uint32_t device) { return slots_.at(device)->device->nic(); }
  // Packets every network device of the machine has finished so far (a TSO packet once; net::NicCounters).
  uint64_t nic_tx_packets() const;
  iommu::Iommu& iommu(uint32_t device) { return *slots_.at(device)->iommu; }
  const DmaPermissions& dma(uint32_t device) const { return *slots_.at(device)->dma; }

  // Recovery, in this order: every device stops (a PCI reset: no DMA in flight afterwards) and its DMA mappings are
  // dropped (quiesce); then its IOMMU serves the next domain's arena and the firmware setup is redone (rebind),
  // before that domain is connected. The host's view of network devices stays.
  void quiesce();
  // For a restart, from the moment the driver is known gone: the network devices keep (bounded) what arrives until
  // the next driver receives (net::Nic::hold_received_frames); false discards it (recovery gave up).
  void hold_received_frames(bool hold);
  void rebind(uint8_t* arena_base, uint64_t arena_size, int arena_fd = -1);
  const side_pci_device_info& info(uint32_t device) const { return slots_.at(device)->info; }
  // Gives the domain (the current generation, after a restart) every register copy and inert write the device
  // models declared (pci::PciDevice::register_shadows), with the registers' values as they read now.
  void publish_shadows();
  size_t device_count() const { return slots_.size(); }

  void set_listener(NetListener* listener) { listener_.store(listener); }
  void set_block_listener(BlockListener* listener) { block_listener_.store(listener); }
  std::vector<NetdevState> netdevs() const;
  std::optional<NetdevState> netdev_of_device(uint32_t device) const;
  // Waits until a network device of `device` has carrier, at most `timeout_ms` of real time.
  bool wait_for_carrier(uint32_t device, unsigned timeout_ms);

  // domain::Platform
  Result<uint32_t> config_read(uint32_t dev, uint32_t offset, unsigned width) override;
  Status config_write(uint32_t dev, uint32_t offset, unsigned width, uint32_t value) override;
  Result<uint64_t> bar_read(uint32_t dev, int bar, uint64_t offset, unsigned width) override;
  Status bar_write(uint32_t dev, int bar, uint64_t offset, unsigned width, uint64_t value) override;
  int dma_map(uint32_t dev, uint64_t phys, uint64_t size, int dir) override;
  int dma_unmap(uint32_t dev, uint64_t phys, uint64_t size, int dir) override;
  int netdev_register(const side_netdev_info& info) override;
  void netdev_unregister(uint64_t token) override;
  void netdev_carrier(uint64_t token, bool on) override;
  void netdev_changed(const side_netdev_info& info) override;
  void netdev_tx_wake(uint64_t token, uint32_t queue) override;
  void netdev_rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) override;
  void block_done(uint64_t tag, int32_t status) override {
    if (BlockListener* l = block_listener_.load()) l->block_done(tag, status);
  }

 private:
  // Delivers the device's INTx line into the domain: a rising edge raises the interrupt.
  class IrqLine final : public pci::InterruptSink {
   public:
    IrqLine(DriverDomain& d, uint32_t irq) : domain_(d), irq_(irq) {}
    void set_irq_level(bool asserted) override {
      asserted_since_ns_.store(asserted ? monotonic_ns() : 0);
      if (asserted) domain_.raise_irq(irq_);
    }
    // A message is a write to the platform's interrupt window: only a line of the domain's message range is
    // raised; anything else (a driver that programmed garbage into its MSI-X table) is counted and dropped.
    void message(uint32_t data) override {
      if (data >= SIDE_MSI_FIRST_IRQ && data < SIDE_NR_IRQ_LINES)
        domain_.raise_irq(data);
      else
        refused_messages_.fetch_add(1, std::memory_order_relaxed);
    }
    uint64_t refused_messages() const { return refused_messages_.load(std::memory_order_relaxed); }
    // A level-triggered line still asserted well after it was raised interrupts again (an interrupt lost on the
    // way is thus only late, as with a real level-triggered INTx).
    void reassert_if_stuck(uint64_t after_ns) {
      uint64_t since = asserted_since_ns_.load();
      if (since && monotonic_ns() - since > after_ns) {
        asserted_since_ns_.store(monotonic_ns());
        domain_.raise_irq(irq_);
      }
    }

   private:
    DriverDomain& domain_;
    uint32_t irq_;
    std::atomic<uint64_t> asserted_since_ns_{0};
    std::atomic<uint64_t> refused_messages_{0};
  };
  struct Slot {
    side_pci_device_info info{};
    std::unique_ptr<iommu::Iommu> iommu;
    std::unique_ptr<DmaPermissions> dma;
    // Declared before the device, so destroyed after it: a device's own threads (a vfio-user device's interrupt
    // thread) deliver to this line until the device's destructor stops them.
    std::unique_ptr<IrqLine> irq;
    std::unique_ptr<pci::PciDevice> device;
  };
  Slot* slot(uint32_t dev);
  bool bar_ok(const Slot& s, int bar, uint64_t offset, unsigned width) const;
  // Register copies (ipc::RegisterShadow): the entries of every device, in the order they were declared.
  struct Shadow {
    uint32_t dev;
    int bar;
    uint32_t offset;
    bool copy;            // the register's value is copied
    bool inert;           // its writes change no copy but its own
    bool private_writes;  // a copy whose writes only its own reads can see (PciDevice::RegisterShadows::private_writes)
  };
  std::vector<Shadow> shadows_;  // set as devices are added
  std::mutex shadow_mu_;         // a value read and published at once, so an older one never overwrites a newer
  void declare_shadows(uint32_t dev);
  // The copies of `dev` read again and published (all devices' with ~0u).
  void refresh_shadows(uint32_t dev);
  // After a register write: the copies it may have changed (only its own register's if the model declared it
  // inert, none if that is no copy) read again and published.
  void refresh_after_write(uint32_t dev, int bar, uint64_t offset);
  void publish_shadow_locked(size_t index);
  void assign_resources(Slot& s);
  void timer_loop();
  void arm_timer(uint64_t deadline_ns);
  void publish_to_timer();

  DriverDomain& domain_;
  std::vector<std::unique_ptr<Slot>> slots_;  // fixed once drivers run (reserved; only grows at setup)
  std::atomic<NetListener*> listener_{nullptr};
  std::atomic<BlockListener*> block_listener_{nullptr};

  mutable std::mutex net_mutex_;
  std::condition_variable net_changed_;
  std::vector<NetdevState> netdevs_;

  // Device timers (interrupt throttling): one thread sleeps until the earliest deadline.
  std::mutex timer_mutex_;
  std::condition_variable timer_cv_;
  std::optional<uint64_t> timer_deadline_;
  size_t timer_devices_ = 0;  // slots the timer thread may touch: published once attached, never withdrawn
  bool timer_stop_ = false;
  std::thread timer_thread_;
};

}  // namespace side::supervisor
