#include "host/host_network.h"

#include <poll.h>

#include <chrono>
#include <cstring>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "host/tap_offload.h"

namespace side::host {
using supervisor::DriverDomain;
namespace {

// A frame from the cable, or from the host with its virtio-net header and up to 64 KiB of TCP segment.
constexpr size_t kMaxFrame = SIDE_MAX_GSO_FRAME + sizeof(net::VnetHeader);
constexpr int kPollMs = 50;

bool wait_readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, kPollMs) > 0;
}

}  // namespace

HostInterface::HostInterface(DriverDomain& domain, net::Tap tap) : domain_(domain), tap_(std::move(tap)) {
  // No carrier until the driver says so, as for a real NIC without link.
  (void)tap_.set_carrier(false);
}

HostInterface::~HostInterface() {
  stop();
}

void HostInterface::start(const side_netdev_info& info) {
  token_ = info.token;
  Status accepted;
  {
    std::lock_guard lock(guard_mu_);
    accepted = guard_.registered(info);
  }
  if (accepted) {
    std::array<uint8_t, 6> mac;
    std::memcpy(mac.data(), info.mac, 6);
    if (auto s = tap_.set_mac(mac); !s) logf(LogLevel::kWarning, "side: %s", s.error().message.c_str());
    if (auto s = tap_.set_mtu(info.mtu); !s) logf(LogLevel::kWarning, "side: %s", s.error().message.c_str());
    apply_offload(info.features);
  } else {
    refuse(accepted);  // the interface keeps side's defaults
  }
  thread_ = std::thread([this] { reader(); });
}

void HostInterface::stop() {
  stop_ = true;
  woken_.notify_all();
  if (thread_.joinable()) thread_.join();
}

HostCounters HostInterface::counters() const {
  return {to_driver_.load(),       from_driver_.load(),     requeued_.load(),        dropped_oversize_.load(),
          dropped_stalled_.load(), refused_changes_.load(), bytes_to_driver_.load(), bytes_from_driver_.load(),
          dropped_offload_.load(), offload_flags_.load()};
}

void HostInterface::apply_offload(uint64_t features) {
  if (!tap_.vnet_hdr()) return;
  std::lock_guard lock(offload_mu_);
  const unsigned want = tun_offload_for(features);
  if (want == offload_flags_.load()) return;
  // Narrowed before frames that ask for more are read: what was read already and the driver no longer takes is
  // dropped and counted by the kernel-API layer (tx_dropped).
  if (auto s = tap_.set_offload(want); !s) {
    logf(LogLevel::kWarning, "side: %s", s.error().message.c_str());
    return;
  }
  offload_flags_ = want;
}

void HostInterface::refuse(const Status& refusal) {
  refused_changes_.fetch_add(1, std::memory_order_relaxed);
  domain_.report_fault(SIDE_FAULT_BAD_ARGUMENT, tap_.name() + ": " + refusal.error().message);
}

void HostInterface::netdev_changed(const side_netdev_info& info) {
  if (info.token != token_.load()) return;
  Status accepted;
  {
    std::lock_guard lock(guard_mu_);
    accepted = guard_.changed(info, monotonic_ns());
  }
  if (!accepted) return refuse(accepted);
  std::array<uint8_t, 6> mac;
  std::memcpy(mac.data(), info.mac, 6);
  (void)tap_.set_mac(mac);
  (void)tap_.set_mtu(info.mtu);
  apply_offload(info.features);
}

void HostInterface::carrier(uint64_t token, bool on) {
  if (token != token_.load()) return;
  Status accepted;
  {
    std::lock_guard lock(guard_mu_);
    accepted = guard_.carrier(on, monotonic_ns());
  }
  if (!accepted) return refuse(accepted);
  (void)tap_.set_carrier(on);
}

void HostInterface::tx_wake(uint64_t token) {
  if (token == token_.load()) woken_.notify_all();
}

void HostInterface::rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) {
  if (token != token_.load()) return;
  const net::VnetHeader h = rx_vnet_header(csum);
  const auto head = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&h), sizeof h);
  if (tap_.vnet_hdr() ? tap_.write(head, frame) : tap_.write(frame)) {
    from_driver_.fetch_add(1, std::memory_order_relaxed);
    bytes_from_driver_.fetch_add(frame.size(), std::memory_order_relaxed);
  }
}

void HostInterface::reader() {
  std::vector<uint8_t> frame(kMaxFrame);
  while (!stop_.load()) {
    if (!wait_readable(tap_.fd())) continue;
    // Every frame that is waiting, then back to poll.
    for (int i = 0; i < 256 && !stop_.load(); ++i) {
      if (!read_one(frame)) break;
    }
  }
}

bool HostInterface::read_one(std::vector<uint8_t>& buffer) {
  auto n = tap_.read(buffer);
  if (!n || *n == 0) return false;
  std::span<const uint8_t> frame(buffer.data(), *n);
  side_tx_offload offload{};
  if (tap_.vnet_hdr()) {
    net::VnetHeader h{};
    if (frame.size() < sizeof h) return true;
    std::memcpy(&h, frame.data(), sizeof h);
    frame = frame.subspan(sizeof h);
    auto o = tx_offload_from(h, frame.size());
    if (!o) {
      dropped_offload_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    offload = *o;
  }
  if (forward(frame, offload)) {
    to_driver_.fetch_add(1, std::memory_order_relaxed);
    bytes_to_driver_.fetch_add(frame.size(), std::memory_order_relaxed);
  }
  return true;
}

bool HostInterface::forward(std::span<const uint8_t> frame, const side_tx_offload& offload) {
  const size_t limit = offload.gso_type != SIDE_TX_GSO_NONE ? SIDE_MAX_GSO_FRAME : SIDE_MAX_FRAME;
  if (frame.size() > limit) {
    // No ring carries it, now or after any restart: waiting for room would stall every frame behind it.
    dropped_oversize_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + kStallLimit;
  while (!domain_.submit_tx(token_.load(), frame, offload)) {
    // The driver's queue is full (or its queue is stopped): wait for it, but not for ever.
    requeued_.fetch_add(1, std::memory_order_relaxed);
    if (stop_.load() || domain_.faulty()) return false;
    if (std::chrono::steady_clock::now() >= deadline) {
      dropped_stalled_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    std::unique_lock lock(mu_);
    woken_.wait_for(lock, std::chrono::milliseconds(1));
  }
  return true;
}

Wire::Wire(net::Nic& nic, std::optional<net::Tap> tap, std::unique_ptr<net::PcapWriter> pcap)
    : nic_(nic), tap_(std::move(tap)), pcap_(std::move(pcap)) {}

Wire::~Wire() {
  stop();
}

void Wire::from_nic(std::span<const uint8_t> frame) {
  to_wire_.fetch_add(1, std::memory_order_relaxed);
  if (pcap_) pcap_->write(frame);
  if (tap_) (void)tap_->write(frame);
}

void Wire::capture(std::span<const uint8_t> frame) {
  if (pcap_) pcap_->write(frame);
}

void Wire::start() {
  if (tap_) thread_ = std::thread([this] { reader(); });
}

void Wire::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

WireCounters Wire::counters() const {
  return {to_wire_.load(), from_wire_.load(), nic_dropped_.load(), pcap_ ? pcap_->frames() : 0};
}

void Wire::reader() {
  std::vector<uint8_t> frame(kMaxFrame);
  while (!stop_.load()) {
    if (!wait_readable(tap_->fd())) continue;
    for (int i = 0; i < 256 && !stop_.load(); ++i) {
      auto n = tap_->read(frame);
      if (!n || *n == 0) break;
      std::span<const uint8_t> f(frame.data(), *n);
      from_wire_.fetch_add(1, std::memory_order_relaxed);
      if (pcap_) pcap_->write(f);
      // What the NIC refuses (no free descriptor, filtered, link down) is lost, as on a real cable.
      if (nic_.receive(f) != net::RxResult::kAccepted) nic_dropped_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

}  // namespace side::host
