// A network device model of QEMU's (e1000, rtl8139, ...) as side drives it: a VfioUserDevice whose server is a
// QEMU process side starts (qemu_process.h), and a net::Nic whose cable is a datagram socket pair between side and
// that QEMU (QEMU's "-netdev socket" backend, one frame per datagram). The host side (the wire TAP in the peer
// namespace, the built-in traffic peer, pcap capture) therefore works as with side's own models, unchanged.
//
// When the server fails, the next reset (recovery) starts a fresh QEMU and reconnects; the old one is stopped.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "devices/net/nic.h"
#include "devices/vfio_user/qemu_process.h"
#include "devices/vfio_user/vfio_user_device.h"

namespace side::vfio_user {

class QemuNic final : public VfioUserDevice, public net::Nic {
 public:
  // Starts QEMU with `config`, connects (every exchange bounded by `timeout`), and checks that the function is the
  // expected one (`vendor`:`device`).
  static Result<std::unique_ptr<QemuNic>> create(const pci::DeviceContext& context, const QemuConfig& config,
                                                 uint16_t vendor, uint16_t device, std::chrono::milliseconds timeout);
  ~QemuNic() override;

  net::Nic* nic() override { return this; }

  // net::Nic
  net::RxResult receive(std::span<const uint8_t> frame) override;
  void set_frame_sink(net::FrameSink sink) override;
  // QEMU's link state is its own (up); a cable change is counted and logged, not carried out.
  void set_link(bool up) override;
  bool link_up() const override { return true; }
  std::array<uint8_t, 6> mac() const override { return config_.mac; }
  net::NicCounters nic_counters() const override;
  NamedCounters model_counters() const override;

  pid_t server_pid() const;

 private:
  struct Instance {
    std::unique_ptr<QemuProcess> process;
    Fd frames;  // side's end of the frame socket pair
  };
  static Result<std::pair<Instance, std::unique_ptr<Client>>> launch(const QemuConfig& config,
                                                                     std::chrono::milliseconds timeout);
  QemuNic(const pci::DeviceContext& context, const Discovered& found, std::unique_ptr<Client> client, Instance instance,
          const QemuConfig& config, std::chrono::milliseconds timeout);
  void reconnected() override;
  void start_frames();
  void stop_frames();
  void frame_loop(int frames, int stop);

  const QemuConfig config_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex instance_mu_;  // instance_ and the frame thread
  Instance instance_;
  Instance pending_;  // a fresh QEMU between reconnect and reconnected()
  Fd frames_stop_;
  std::thread frame_thread_;
  std::mutex sink_mu_;
  net::FrameSink sink_;
  std::atomic<uint64_t> tx_frames_{0}, tx_bytes_{0}, rx_frames_{0}, rx_bytes_{0}, rx_dropped_{0};
  std::atomic<uint64_t> link_requests_{0}, restarts_{0};
};

}  // namespace side::vfio_user
