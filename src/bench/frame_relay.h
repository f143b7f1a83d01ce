// The ceiling of side's frame path on this machine: a relay with no driver and no device model. It stands where a
// driver domain and its NIC stand (it is both, to whoever feeds it), and the supervisor's own thread copies each
// frame straight across: host -> wire for transmitted frames, wire -> host for received ones. Each frame crosses
// one shared ring and one thread hop, as a frame to or from a domain process does (ipc::Ring, a doorbell that
// spins briefly before it sleeps), and is copied in and out of the ring, so what it costs is the least any mode
// that moves a frame across a thread can cost: `side bench` reports every mode as a fraction of it.
//
// The built-in traffic peer and the host interface (TAP) drive it unchanged: submit_tx() is the host's side,
// receive() the wire's; frames leave through the frame sink (wire) and the frame receiver (host).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "devices/net/nic.h"
#include "ipc/ring.h"
#include "supervisor/driver_domain.h"

namespace side::bench {

class FrameRelay final : public supervisor::DriverDomain, public net::Nic {
 public:
  static constexpr uint64_t kToken = 1;  // the relay's one "network device"
  static constexpr uint32_t kSlots = 512, kSlotSize = 2048;

  explicit FrameRelay(std::array<uint8_t, 6> mac);
  ~FrameRelay() override;
  FrameRelay(const FrameRelay&) = delete;
  FrameRelay& operator=(const FrameRelay&) = delete;

  // Starts and stops the relay's thread (stop() also runs at destruction).
  void start();
  void stop();

  struct Counters {
    uint64_t to_wire = 0, to_host = 0;  // frames relayed each way
    uint64_t wake_ups = 0;              // times the relay's thread was woken with work
  };
  Counters relay_counters() const;

  // DriverDomain: the data path and what a session looks at; there is no driver to load or control.
  const char* isolation() const override { return "relay"; }
  int pid() const override;
  uint8_t* arena_base() const override { return nullptr; }
  uint64_t arena_size() const override { return 0; }
  void connect(domain::Platform* /*platform*/) override {}
  void set_frame_receiver(domain::FrameReceiver* receiver) override { receiver_ = receiver; }
  Result<std::string> load(const domain::LoadRequest& request) override;
  Result<ipc::ControlAnswer> transact(const ipc::ControlRequest& request) override;
  void report_fault(int /*kind*/, const std::string& /*message*/) override {}
  void raise_irq(uint32_t /*irq*/) override {}
  // The relay announces no offloads, so no frame asks for one (`offload` is not looked at).
  bool submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload& offload = {}) override;
  bool faulty() const override { return false; }
  std::vector<domain::FaultReport> faults() const override { return {}; }
  std::optional<supervisor::DomainCounters> counters() const override { return std::nullopt; }
  void shutdown() override { stop(); }
  Status kill() override;

  // Nic: the wire's side.
  net::RxResult receive(std::span<const uint8_t> frame) override;
  void set_frame_sink(net::FrameSink sink) override;
  void set_link(bool up) override { link_ = up; }
  bool link_up() const override { return link_; }
  std::array<uint8_t, 6> mac() const override { return mac_; }
  net::NicCounters nic_counters() const override;

 private:
  // One direction: a ring (its memory private to this process) and the lock its producers share.
  struct Lane {
    std::vector<uint8_t> memory;
    ipc::Ring ring;
    std::mutex producers;
  };
  bool push(Lane& lane, std::span<const uint8_t> frame);
  void run();
  size_t drain(Lane& lane, bool to_wire);

  std::array<uint8_t, 6> mac_;
  Lane to_wire_, to_host_;
  std::atomic<uint32_t> bell_word_{0};
  std::atomic<domain::FrameReceiver*> receiver_{nullptr};
  std::mutex sink_mu_;
  net::FrameSink sink_;
  std::atomic<bool> link_{true}, stop_{false};
  std::thread thread_;
  std::vector<uint8_t> buffer_;
  std::atomic<uint64_t> relayed_to_wire_{0}, relayed_to_host_{0}, wake_ups_{0};
};

}  // namespace side::bench
