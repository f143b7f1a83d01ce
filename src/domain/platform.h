// The world outside a driver domain, as its kernel-API layer reaches it: the PCI devices assigned to the domain
// (config space, BAR registers, DMA permissions) and the host side of the network devices its drivers register.
//
// In-process isolation implements this with direct calls into the supervisor's device models; a domain process
// implements it with messages to the supervisor. Either way, the implementation treats every argument as coming
// from a hostile driver: device numbers, offsets, widths and address ranges are validated, never trusted.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.h"
#include "kapi/side_host.h"

namespace side::domain {

// Where a driver's received frames go: the host side of its network device (a host interface, the traffic peer),
// handed each frame straight from the data path rather than through the Platform (and the machine behind it).
// Called on whichever thread carries the frame; must not block or call back into the domain.
class FrameReceiver {
 public:
  virtual ~FrameReceiver() = default;
  virtual void rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) = 0;
};

class Platform {
 public:
  virtual ~Platform() = default;

  // PCI config space of device `dev` (a device number from side_pci_device_info).
  virtual Result<uint32_t> config_read(uint32_t dev, uint32_t offset, unsigned width) = 0;
  virtual Status config_write(uint32_t dev, uint32_t offset, unsigned width, uint32_t value) = 0;

  // A register access inside BAR `bar` of device `dev`, `offset` bytes from the BAR's start.
  virtual Result<uint64_t> bar_read(uint32_t dev, int bar, uint64_t offset, unsigned width) = 0;
  virtual Status bar_write(uint32_t dev, int bar, uint64_t offset, unsigned width, uint64_t value) = 0;

  // DMA permissions for [phys, phys + size) in direction `dir` (SIDE_DMA_*). 0 or a negative errno.
  virtual int dma_map(uint32_t dev, uint64_t phys, uint64_t size, int dir) = 0;
  virtual int dma_unmap(uint32_t dev, uint64_t phys, uint64_t size, int dir) = 0;

  // Network devices. `token` names the device in the domain; the host never dereferences it.
  virtual int netdev_register(const side_netdev_info& info) = 0;
  virtual void netdev_unregister(uint64_t token) = 0;
  virtual void netdev_carrier(uint64_t token, bool on) = 0;
  virtual void netdev_changed(const side_netdev_info& info) = 0;  // new MAC address or MTU
  virtual void netdev_tx_wake(uint64_t token, uint32_t queue) = 0;
  // A received frame, when no FrameReceiver takes it directly.
  virtual void netdev_rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) = 0;

  // Block devices: the driver completed the request side submitted under `tag` (ipc::BlockSubmit) with `status`
  // (0 or a negative errno). Called on the vCPU that completed it; must not block. Platforms without disks drop it.
  virtual void block_done(uint64_t /*tag*/, int32_t /*status*/) {}
};

// A received frame to the host side: straight to `receiver` when there is one, else through `platform` (either
// may be null: then the frame goes nowhere).
inline void deliver_rx(FrameReceiver* receiver, Platform* platform, uint64_t token, std::span<const uint8_t> frame,
                       uint32_t csum) {
  if (receiver)
    receiver->rx(token, frame, csum);
  else if (platform)
    platform->netdev_rx(token, frame, csum);
}

}  // namespace side::domain
