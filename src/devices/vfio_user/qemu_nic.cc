#include "devices/vfio_user/qemu_nic.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/log.h"

namespace side::vfio_user {
namespace {

// The largest frame either end passes: QEMU's own receive buffer bound (a 64 KiB frame plus headers).
constexpr size_t kMaxFrame = 69632;

}  // namespace

Result<std::pair<QemuNic::Instance, std::unique_ptr<Client>>> QemuNic::launch(const QemuConfig& config,
                                                                              std::chrono::milliseconds timeout) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) != 0)
    return make_error(std::string("socketpair: ") + std::strerror(errno));
  Fd ours(pair[0]), theirs(pair[1]);
  auto process = QemuProcess::start(config, theirs.get());
  if (!process) return process.error();
  auto socket = (*process)->connect();
  if (!socket) return socket.error();
  auto client = std::make_unique<Client>(std::move(*socket), timeout);
  if (auto s = client->negotiate(); !s)
    return make_error("QEMU's vfio-user server: " + s.error().message + " (" + (*process)->log_tail() + ")");
  Instance instance{std::move(*process), std::move(ours)};
  return std::make_pair(std::move(instance), std::move(client));
}

Result<std::unique_ptr<QemuNic>> QemuNic::create(const pci::DeviceContext& context, const QemuConfig& config,
                                                 uint16_t vendor, uint16_t device, std::chrono::milliseconds timeout) {
  auto launched = launch(config, timeout);
  if (!launched) return launched.error();
  auto& [instance, client] = *launched;
  auto found = discover(*client);
  if (!found) return make_error("QEMU's " + config.device + ": " + found.error().message);
  if (found->identity.vendor_id != vendor || found->identity.device_id != device) {
    return make_error("QEMU's " + config.device + " is not the expected PCI function");
  }
  std::unique_ptr<QemuNic> nic(new QemuNic(context, *found, std::move(client), std::move(instance), config, timeout));
  SIDE_TRY(nic->start());
  nic->frames_stop_ = Fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!nic->frames_stop_) return make_error(std::string("eventfd: ") + std::strerror(errno));
  nic->start_frames();
  return nic;
}

QemuNic::QemuNic(const pci::DeviceContext& context, const Discovered& found, std::unique_ptr<Client> client,
                 Instance instance, const QemuConfig& config, std::chrono::milliseconds timeout)
    : VfioUserDevice(context, "qemu:" + config.device, found, std::move(client),
                     // A fresh QEMU for a failed one: kept aside until the device has adopted its connection.
                     [this]() -> Result<std::unique_ptr<Client>> {
                       auto launched = launch(config_, timeout_);
                       if (!launched) return launched.error();
                       pending_ = std::move(launched->first);
                       return std::move(launched->second);
                     }),
      config_(config),
      timeout_(timeout),
      instance_(std::move(instance)) {}

// The interrupt thread ends before the members do: instance_ stops QEMU, and an interrupt the device raised after
// its driver's remove (vmxnet3, its MSI-X off, raises INTx for traffic still arriving) was handled by reading the
// status register of a QEMU that had closed its socket, a device fault of a domain being shut down (about half the
// vmxnet3 conformance rows logged one).
QemuNic::~QemuNic() {
  stop_interrupts();
  stop_frames();
}

void QemuNic::reconnected() {
  stop_frames();
  {
    std::lock_guard lock(instance_mu_);
    instance_ = std::move(pending_);  // the old QEMU is stopped here
  }
  ++restarts_;
  start_frames();
}

void QemuNic::start_frames() {
  std::lock_guard lock(instance_mu_);
  if (!frames_stop_ || !instance_.frames) return;
  uint64_t drain;
  (void)!::read(frames_stop_.get(), &drain, sizeof drain);
  frame_thread_ = std::thread([this, fd = instance_.frames.get(), stop = frames_stop_.get()] { frame_loop(fd, stop); });
}

void QemuNic::stop_frames() {
  if (!frame_thread_.joinable()) return;
  const uint64_t one = 1;
  (void)!::write(frames_stop_.get(), &one, sizeof one);
  frame_thread_.join();
}

// Frames QEMU's device transmitted: to the sink (the wire), outside any device lock.
void QemuNic::frame_loop(int frames, int stop) {
  std::vector<uint8_t> buf(kMaxFrame);
  for (;;) {
    pollfd p[2] = {{frames, POLLIN, 0}, {stop, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    if (p[0].revents & (POLLERR | POLLHUP | POLLNVAL)) return;  // QEMU is gone; the device fault says so
    const ssize_t n = recv(frames, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n <= 0 || static_cast<size_t>(n) > buf.size()) continue;  // nothing, or a frame too large: dropped
    ++tx_frames_;
    tx_bytes_ += static_cast<uint64_t>(n);
    net::FrameSink sink;
    {
      std::lock_guard lock(sink_mu_);
      sink = sink_;
    }
    if (sink) sink(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
  }
}

net::RxResult QemuNic::receive(std::span<const uint8_t> frame) {
  if (frame.size() < 14 || frame.size() > kMaxFrame) {
    ++rx_dropped_;
    return net::RxResult::kDroppedSize;
  }
  std::lock_guard lock(instance_mu_);
  if (!instance_.frames || send(instance_.frames.get(), frame.data(), frame.size(), MSG_DONTWAIT) < 0) {
    ++rx_dropped_;  // QEMU is not taking frames as fast as they come (or is gone)
    return net::RxResult::kDroppedNoDescriptors;
  }
  ++rx_frames_;
  rx_bytes_ += frame.size();
  return net::RxResult::kAccepted;
}

void QemuNic::set_frame_sink(net::FrameSink sink) {
  std::lock_guard lock(sink_mu_);
  sink_ = std::move(sink);
}

void QemuNic::set_link(bool up) {
  if (link_requests_++ == 0)
    logf(LogLevel::kWarning, "side: qemu:%s: the cable of a QEMU device cannot be %s (request ignored)",
         config_.device.c_str(), up ? "plugged" : "unplugged");
}

net::NicCounters QemuNic::nic_counters() const {
  net::NicCounters c;
  c.tx_frames = tx_frames_.load();
  // QEMU's model segments a TSO packet before side sees it: only its frames are visible here, so recovery may
  // count a packet in flight as sent (and lose it to TCP's retransmission), never the other way round.
  c.tx_packets = c.tx_frames;
  c.tx_bytes = tx_bytes_.load();
  c.rx_frames = rx_frames_.load();  // handed to QEMU; whether its model found a buffer is QEMU's to know
  c.rx_bytes = rx_bytes_.load();
  c.rx_dropped = rx_dropped_.load();
  for (const auto& [name, value] : VfioUserDevice::model_counters()) {
    if (name == "server_interrupts") c.irq_assertions = value;
  }
  return c;
}

pci::PciDevice::NamedCounters QemuNic::model_counters() const {
  auto c = VfioUserDevice::model_counters();
  c.emplace_back("qemu_restarts", restarts_.load());
  c.emplace_back("link_requests_ignored", link_requests_.load());
  return c;
}

pid_t QemuNic::server_pid() const {
  std::lock_guard lock(instance_mu_);
  return instance_.process ? instance_.process->pid() : -1;
}

}  // namespace side::vfio_user
