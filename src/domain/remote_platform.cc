#include "domain/remote_platform.h"

#include <sched.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "domain/domain.h"
#include "domain/layout.h"
#include "ipc/doorbell.h"

namespace side::domain {
namespace {

constexpr uint64_t kReplyTimeoutNs = 10'000'000'000;  // the supervisor is gone, or wedged

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Pushes with bounded waiting: the consumer drains continuously, so a full ring is transient.
bool push_bounded(ipc::Ring& ring, const side_msg& msg, std::span<const uint8_t> payload) {
  const uint64_t deadline = now_ns() + 1'000'000'000;
  while (!ring.push(msg, payload)) {
    if (ring.broken() || now_ns() > deadline) return false;
    sched_yield();
  }
  return true;
}

}  // namespace

Result<side_msg> RemotePlatform::device_request(side_msg request, bool want_reply) {
  int cpu = Domain::current_vcpu();
  if (cpu < 0 || cpu >= static_cast<int>(ipc::kChannelVcpus)) return make_error("device access from outside a vCPU");
  request.cookie = cookies_.fetch_add(1);
  if (!push_bounded(ch_.device(cpu), request, {})) return make_error("the supervisor does not take requests");
  ipc::Doorbell(&ch_.header().supervisor_bell).ring(ipc::kBellDevice);
  if (!want_reply) return request;
  ipc::Doorbell bell(&ch_.header().reply_bell[cpu]);
  const uint64_t deadline = now_ns() + kReplyTimeoutNs;
  for (;;) {
    side_msg reply{};
    uint8_t none[1];
    long n = ch_.reply(cpu).pop(reply, std::span(none, 0));
    if (n >= 0) {
      // Replies come in request order on this vCPU's ring: anything else is a broken supervisor.
      if (reply.type != SIDE_MSG_DEVICE_REPLY || reply.cookie != request.cookie) {
        return make_error("reply out of order");
      }
      return reply;
    }
    if (ch_.reply(cpu).broken() || now_ns() > deadline) return make_error("no reply from the supervisor");
    bell.wait(options_.spin_ns, 10'000'000);
  }
}

Result<uint32_t> RemotePlatform::config_read(uint32_t dev, uint32_t offset, unsigned width) {
  side_msg m{};
  m.type = SIDE_MSG_CONFIG_READ;
  m.arg[0] = dev;
  m.arg[1] = offset;
  m.arg[2] = width;
  auto r = device_request(m, true);
  if (!r) return r.error();
  if (static_cast<int64_t>(r->arg[0]) != 0) return make_error("config read refused");
  return static_cast<uint32_t>(r->arg[1]);
}

Status RemotePlatform::config_write(uint32_t dev, uint32_t offset, unsigned width, uint32_t value) {
  side_msg m{};
  m.type = SIDE_MSG_CONFIG_WRITE;
  m.arg[0] = dev;
  m.arg[1] = offset;
  m.arg[2] = width;
  m.arg[3] = value;
  auto r = device_request(m, false);
  if (!r) return r.error();
  return {};
}

Result<uint64_t> RemotePlatform::bar_read(uint32_t dev, int bar, uint64_t offset, unsigned width) {
  side_msg m{};
  m.type = SIDE_MSG_BAR_READ;
  m.arg[0] = dev;
  m.arg[1] = static_cast<uint64_t>(bar);
  m.arg[2] = offset;
  m.arg[3] = width;
  auto r = device_request(m, true);
  if (!r) return r.error();
  if (static_cast<int64_t>(r->arg[0]) != 0) return make_error("access outside the device's BARs");
  return r->arg[1];
}

Status RemotePlatform::bar_write(uint32_t dev, int bar, uint64_t offset, unsigned width, uint64_t value) {
  side_msg m{};
  m.type = SIDE_MSG_BAR_WRITE;
  m.arg[0] = dev;
  m.arg[1] = static_cast<uint64_t>(bar);
  m.arg[2] = offset;
  m.arg[3] = width;
  m.arg[4] = value;
  auto r = device_request(m, false);
  if (!r) return r.error();
  return {};
}

int RemotePlatform::dma_change(bool map, uint32_t dev, uint64_t phys, uint64_t size, int dir) {
  side_msg m{};
  m.arg[0] = dev;
  m.arg[1] = phys;
  m.arg[2] = size;
  m.arg[3] = static_cast<uint64_t>(dir);
  if (options_.posted_dma) {
    // The supervisor refuses anything outside the arena; refusing it here too keeps the driver's error synchronous.
    // An unmap that does not match a mapping is detected by the supervisor, as a fault of the driver.
    if (size == 0 || phys < kArenaPhysBase || phys - kArenaPhysBase > options_.arena_bytes ||
        size > options_.arena_bytes - (phys - kArenaPhysBase)) {
      return -EINVAL;
    }
    m.type = map ? SIDE_MSG_DMA_MAP_POSTED : SIDE_MSG_DMA_UNMAP_POSTED;
    return send_event(m) ? 0 : -EIO;
  }
  m.type = map ? SIDE_MSG_DMA_MAP : SIDE_MSG_DMA_UNMAP;
  auto r = device_request(m, true);
  return r ? static_cast<int>(static_cast<int64_t>(r->arg[0])) : -EIO;
}

int RemotePlatform::dma_map(uint32_t dev, uint64_t phys, uint64_t size, int dir) {
  return dma_change(true, dev, phys, size, dir);
}

int RemotePlatform::dma_unmap(uint32_t dev, uint64_t phys, uint64_t size, int dir) {
  return dma_change(false, dev, phys, size, dir);
}

bool RemotePlatform::send_event(const side_msg& msg, std::span<const uint8_t> payload) {
  bool ok;
  {
    std::lock_guard lock(events_mutex_);
    ok = push_bounded(ch_.events(), msg, payload);
  }
  if (!ok) return false;  // the supervisor is gone or wedged: it will see the domain as faulty anyway
  ipc::Doorbell(&ch_.header().supervisor_bell).ring(ipc::kBellEvents);
  return true;
}

void RemotePlatform::reply(uint64_t cookie, int64_t status, uint64_t value, std::span<const uint8_t> payload) {
  side_msg m{};
  m.type = SIDE_MSG_REPLY;
  m.cookie = cookie;
  m.arg[0] = static_cast<uint64_t>(status);
  m.arg[1] = value;
  send_event(m, payload);
}

int RemotePlatform::netdev_register(const side_netdev_info& info) {
  // Registration is announced; the supervisor refuses duplicates by failing the domain, not the call.
  side_msg m{};
  m.type = SIDE_MSG_NETDEV_REGISTER;
  return send_event(m, std::span(reinterpret_cast<const uint8_t*>(&info), sizeof info)) ? 0 : -ENOSPC;
}

void RemotePlatform::netdev_unregister(uint64_t token) {
  side_msg m{};
  m.type = SIDE_MSG_NETDEV_UNREGISTER;
  m.arg[0] = token;
  send_event(m);
}

void RemotePlatform::netdev_carrier(uint64_t token, bool on) {
  side_msg m{};
  m.type = SIDE_MSG_CARRIER;
  m.arg[0] = token;
  m.arg[1] = on;
  send_event(m);
}

void RemotePlatform::netdev_changed(const side_netdev_info& info) {
  side_msg m{};
  m.type = SIDE_MSG_NETDEV_CHANGED;
  send_event(m, std::span(reinterpret_cast<const uint8_t*>(&info), sizeof info));
}

void RemotePlatform::netdev_tx_wake(uint64_t token, uint32_t queue) {
  side_msg m{};
  m.type = SIDE_MSG_TX_WAKE;
  m.arg[0] = token;
  m.arg[1] = queue;
  send_event(m);
}

void RemotePlatform::netdev_rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) {
  side_msg m{};
  m.type = SIDE_MSG_RX_FRAME;
  m.arg[0] = token;
  m.arg[1] = csum;
  bool ok;
  {
    std::lock_guard lock(rx_mutex_);
    ok = frame.size() <= ch_.rx().max_payload() && push_bounded(ch_.rx(), m, frame);
  }
  // A frame that finds no room is lost, as on a congested link (the receiver counts the gap).
  if (ok) ipc::Doorbell(&ch_.header().supervisor_bell).ring(ipc::kBellRx);
}

}  // namespace side::domain
