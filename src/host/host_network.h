// The network around an isolated NIC driver, made of real interfaces:
//   HostInterface  the host side of the driver's net_device: a TAP (side0) whose frames go to the driver's
//                  transmit path and which receives what the driver receives; MAC, MTU and carrier mirror the
//                  driver's.
//   Wire           the other end of the emulated NIC's cable: a TAP (usually in a peer network namespace), and/or
//                  a pcap capture of every frame on the wire.
// Each reads its TAP on a thread of its own, in batches (every waiting frame per wake-up).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "devices/net/nic.h"
#include "host/netdev_guard.h"
#include "net/pcap_writer.h"
#include "net/tap.h"
#include "supervisor/driver_domain.h"
#include "supervisor/machine.h"

namespace side::host {

struct HostCounters {
  uint64_t to_driver = 0;         // frames the host sent through the driver
  uint64_t from_driver = 0;       // frames the driver received for the host
  uint64_t requeued = 0;          // submissions that waited for room in the driver's queue
  uint64_t dropped_oversize = 0;  // frames larger than any the driver's rings carry (SIDE_MAX_FRAME; with TCP
                                  // segmentation offload SIDE_MAX_GSO_FRAME)
  uint64_t dropped_stalled = 0;   // frames the driver took no frame for kStallLimit: dropped, not retried forever
  uint64_t refused_changes = 0;   // address, MTU and carrier changes of the driver refused (driver faults)
  uint64_t bytes_to_driver = 0;   // of the frames counted in to_driver and from_driver
  uint64_t bytes_from_driver = 0;
  uint64_t dropped_offload = 0;  // frames whose virtio-net header asked for what no driver is given (tap_offload.h)
  uint64_t offload_flags = 0;    // the TUN_F_* offloads the host's stack may use now (tun_offload_for)
};

class HostInterface final : public supervisor::NetListener {
 public:
  // How long a frame waits for room in the driver's queue before it is dropped (counted): a driver that stops
  // taking frames cannot stall the host's interface for good.
  static constexpr std::chrono::milliseconds kStallLimit{2000};

  HostInterface(supervisor::DriverDomain& domain, net::Tap tap);
  ~HostInterface() override;

  // Binds to the driver's device (token) and starts moving frames.
  void start(const side_netdev_info& info);
  void stop();
  const net::Tap& tap() const { return tap_; }
  uint64_t token() const { return token_.load(); }
  HostCounters counters() const;

  // The configuration last handed to the driver (by registration, or mirrored from the host's interface): what a
  // restarted driver must be given again.
  struct Mirror {
    uint32_t mtu = 0;
    std::array<uint8_t, 6> mac{};
    uint32_t rx_flags = 0;
    std::vector<std::array<uint8_t, 6>> multicast;
  };
  Mirror& mirror() { return mirror_; }

  // NetListener
  void netdev_changed(const side_netdev_info& info) override;
  void carrier(uint64_t token, bool on) override;
  void tx_wake(uint64_t token) override;
  void rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) override;

 private:
  void reader();
  // Hands one frame from the host to the driver, waiting (bounded) for room; false if it was dropped.
  bool forward(std::span<const uint8_t> frame, const side_tx_offload& offload);
  // One read of the TAP (a virtio-net header first, if it has one) handed on; false when nothing was waiting.
  bool read_one(std::vector<uint8_t>& buffer);
  // The offloads the host may hand over, for the driver's features now (a TAP with a virtio-net header).
  void apply_offload(uint64_t features);
  // A change the guard refused: counted, and a fault of the driver.
  void refuse(const Status& refusal);
  supervisor::DriverDomain& domain_;
  net::Tap tap_;
  std::atomic<uint64_t> token_{0};
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable woken_;
  std::atomic<uint64_t> to_driver_{0}, from_driver_{0}, requeued_{0};
  std::atomic<uint64_t> dropped_oversize_{0}, dropped_stalled_{0}, refused_changes_{0};
  std::atomic<uint64_t> bytes_to_driver_{0}, bytes_from_driver_{0};
  std::atomic<uint64_t> dropped_offload_{0};
  std::mutex offload_mu_;  // apply_offload runs on the domain's event thread and in start()
  std::atomic<unsigned> offload_flags_{0};
  Mirror mirror_;
  std::mutex guard_mu_;  // the guard is used by the domain's event thread and by start()
  NetdevGuard guard_;
};

struct WireCounters {
  uint64_t to_wire = 0;      // frames the NIC transmitted
  uint64_t from_wire = 0;    // frames offered to the NIC's receiver
  uint64_t nic_dropped = 0;  // of those, refused by the NIC (no descriptors, filtered, link down)
  uint64_t captured = 0;
};

class Wire {
 public:
  Wire(net::Nic& nic, std::optional<net::Tap> tap, std::unique_ptr<net::PcapWriter> pcap);
  ~Wire();
  // A frame the NIC transmitted (its frame sink): captured and sent down the cable.
  void from_nic(std::span<const uint8_t> frame);
  // A frame another source puts on the wire towards the NIC (the built-in peer): captured only.
  void capture(std::span<const uint8_t> frame);
  void start();
  void stop();
  WireCounters counters() const;

 private:
  void reader();
  net::Nic& nic_;
  std::optional<net::Tap> tap_;
  std::unique_ptr<net::PcapWriter> pcap_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> to_wire_{0}, from_wire_{0}, nic_dropped_{0};
};

}  // namespace side::host
