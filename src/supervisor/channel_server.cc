#include "supervisor/channel_server.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/log.h"
#include "common/sanitize.h"
#include "ipc/doorbell.h"

namespace side::supervisor {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Text from a domain is data: every string it hands over is sanitized here, where it enters the supervisor, so
// that no terminal control, bidirectional override or forged line reaches side's output (common/sanitize.h).
constexpr size_t kMaxText = 1024;

std::string text(std::span<const uint8_t> p) {
  return sanitize_text(p, kMaxText);
}

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

bool ChannelServer::drain_events(int limit) {
  bool progress = false;
  std::vector<uint8_t>& payload = events_buffer_;
  for (int i = 0; i < limit; ++i) {
    side_msg m{};
    long n = ch_.events().pop(m, payload);
    if (n < 0) break;
    progress = true;
    handle_event(m, std::span(payload.data(), static_cast<size_t>(n)));
  }
  return progress;
}

bool ChannelServer::drain() {
  bool progress = drain_events(kBatch);
  for (unsigned cpu = 0; cpu < ipc::kChannelVcpus; ++cpu) {
    uint8_t none[1];
    for (int i = 0; i < kBatch; ++i) {
      side_msg m{};
      long n = ch_.device(cpu).pop(m, std::span(none, 0));
      if (n < 0) break;
      progress = true;
      handle_device(cpu, m);
    }
  }
  std::vector<uint8_t>& frame = buffer_;
  for (int i = 0; i < kBatch; ++i) {
    side_msg m{};
    long n = ch_.rx().pop(m, frame);
    if (n < 0) break;
    progress = true;
    if (m.type != SIDE_MSG_RX_FRAME) {
      fault(SIDE_FAULT_PROTOCOL, "unexpected message on the receive ring");
      continue;
    }
    if (auto* p = platform_) {
      p->netdev_rx(m.arg[0], std::span(frame.data(), static_cast<size_t>(n)), static_cast<uint32_t>(m.arg[1]));
    }
  }
  bool broken = ch_.events().broken() || ch_.rx().broken();
  for (unsigned cpu = 0; cpu < ipc::kChannelVcpus; ++cpu) broken |= ch_.device(cpu).broken();
  if (broken && !broken_reported_) {
    broken_reported_ = true;
    fault(SIDE_FAULT_PROTOCOL, "the domain corrupted a ring's indices or lengths");
  }
  return progress && !broken;
}

void ChannelServer::handle_event(const side_msg& m, std::span<const uint8_t> payload) {
  auto* platform = platform_;
  switch (m.type) {
    case SIDE_MSG_REPLY: {
      // A refusal's payload is the domain's explanation (text, shown to the user); a success's is data whose
      // type the request gives (the requester decodes it, sanitizing the strings in it).
      const auto status = static_cast<int64_t>(m.arg[0]);
      const std::string why = status != 0 ? text(payload) : std::string();
      if (h_.reply) h_.reply(m.type, m.cookie, status, m.arg[1], status != 0 ? bytes(why) : payload);
      return;
    }
    case SIDE_MSG_READY:
      if (m.arg[0] != SIDE_IPC_VERSION) {
        static const char kWrong[] = "the domain speaks another protocol version";
        if (h_.reply) {
          h_.reply(m.type, 0, -1, 0, std::span(reinterpret_cast<const uint8_t*>(kWrong), sizeof kWrong - 1));
        }
        return;
      }
      if (h_.reply) h_.reply(m.type, 0, static_cast<int64_t>(m.arg[2]), m.arg[1], bytes(text(payload)));
      return;
    case SIDE_MSG_LOG:
      log_.line(m.arg[0], payload, now_ns());
      return;
    case SIDE_MSG_FAULT: {
      std::string all(reinterpret_cast<const char*>(payload.data()), payload.size());
      size_t nul = all.find('\0');
      std::string message = text(bytes(all.substr(0, nul)));
      std::string location =
          nul == std::string::npos ? "" : text(bytes(all.substr(nul + 1, all.find('\0', nul + 1) - nul - 1)));
      int kind = m.arg[0] < SIDE_FAULT_KIND_COUNT ? static_cast<int>(m.arg[0]) : SIDE_FAULT_PROTOCOL;
      fault(kind, message, location);
      return;
    }
    case SIDE_MSG_NETDEV_REGISTER: {
      side_netdev_info info{};
      if (payload.size() != sizeof info) {
        fault(SIDE_FAULT_PROTOCOL, "malformed network device registration");
        return;
      }
      std::memcpy(&info, payload.data(), sizeof info);
      sanitize_field(info.name, sizeof info.name);
      if (platform && platform->netdev_register(info) != 0) {
        fault(SIDE_FAULT_PROTOCOL, std::string("network device ") + info.name + " refused");
      }
      return;
    }
    case SIDE_MSG_NETDEV_CHANGED: {
      side_netdev_info info{};
      if (payload.size() != sizeof info) {
        fault(SIDE_FAULT_PROTOCOL, "malformed network device change");
        return;
      }
      std::memcpy(&info, payload.data(), sizeof info);
      sanitize_field(info.name, sizeof info.name);
      if (platform) platform->netdev_changed(info);
      return;
    }
    case SIDE_MSG_NETDEV_UNREGISTER:
      if (platform) platform->netdev_unregister(m.arg[0]);
      return;
    case SIDE_MSG_CARRIER:
      if (platform) platform->netdev_carrier(m.arg[0], m.arg[1] != 0);
      return;
    case SIDE_MSG_TX_WAKE:
      if (platform) platform->netdev_tx_wake(m.arg[0], static_cast<uint32_t>(m.arg[1]));
      return;
    case SIDE_MSG_DMA_MAP_POSTED:
    case SIDE_MSG_DMA_UNMAP_POSTED: {
      // The domain did not wait for this answer, so a refusal can only be reported as the driver's fault: it
      // mapped memory that is not its own, or unmapped what it never mapped.
      if (!platform) return;
      const bool map = m.type == SIDE_MSG_DMA_MAP_POSTED;
      const auto dev = static_cast<uint32_t>(m.arg[0]);
      const int dir = static_cast<int>(static_cast<int64_t>(m.arg[3]));
      int rc =
          map ? platform->dma_map(dev, m.arg[1], m.arg[2], dir) : platform->dma_unmap(dev, m.arg[1], m.arg[2], dir);
      if (rc != 0) {
        fault(SIDE_FAULT_BAD_ARGUMENT, std::string(map ? "DMA mapping" : "DMA unmapping") + " of " +
                                           std::to_string(m.arg[2]) + " bytes at physical address " +
                                           std::to_string(m.arg[1]) + " refused (error " + std::to_string(rc) + ")");
      }
      return;
    }
    default:
      fault(SIDE_FAULT_PROTOCOL, "unknown event type " + std::to_string(m.type));
  }
}

namespace {

bool is_device_request(uint16_t type) {
  switch (type) {
    case SIDE_MSG_CONFIG_READ:
    case SIDE_MSG_CONFIG_WRITE:
    case SIDE_MSG_BAR_READ:
    case SIDE_MSG_BAR_WRITE:
    case SIDE_MSG_DMA_MAP:
    case SIDE_MSG_DMA_UNMAP:
      return true;
    default:
      return false;
  }
}

}  // namespace

void ChannelServer::handle_device(unsigned cpu, const side_msg& m) {
  // Posted DMA permission changes the domain made before this request take effect first, whichever virtual CPU
  // made them: a register write that starts DMA must find its buffers mapped. The ring holds a bounded number of
  // messages, and a domain that keeps refilling it only delays its own request.
  drain_events(static_cast<int>(ipc::kEventRing.slots));
  auto* platform = platform_;
  side_msg reply{};
  reply.type = SIDE_MSG_DEVICE_REPLY;
  reply.cookie = m.cookie;
  bool answer = true;
  const auto dev = static_cast<uint32_t>(m.arg[0]);
  if (!is_device_request(m.type)) {
    // Whether or not a device is attached yet: a type that does not exist is never a request to answer.
    fault(SIDE_FAULT_PROTOCOL, "unknown device request " + std::to_string(m.type));
    reply.arg[0] = static_cast<uint64_t>(-EINVAL);
  } else if (!platform) {
    reply.arg[0] = static_cast<uint64_t>(-ENODEV);
  } else {
    switch (m.type) {
      case SIDE_MSG_CONFIG_READ: {
        auto r = platform->config_read(dev, static_cast<uint32_t>(m.arg[1]), static_cast<unsigned>(m.arg[2]));
        reply.arg[0] = r ? 0 : static_cast<uint64_t>(-EINVAL);
        reply.arg[1] = r ? *r : 0;
        break;
      }
      case SIDE_MSG_CONFIG_WRITE:
        answer = false;
        (void)platform->config_write(dev, static_cast<uint32_t>(m.arg[1]), static_cast<unsigned>(m.arg[2]),
                                     static_cast<uint32_t>(m.arg[3]));
        break;
      case SIDE_MSG_BAR_READ: {
        auto r = platform->bar_read(dev, static_cast<int>(m.arg[1] & 0xff), m.arg[2], static_cast<unsigned>(m.arg[3]));
        reply.arg[0] = r ? 0 : static_cast<uint64_t>(-EINVAL);
        reply.arg[1] = r ? *r : 0;
        break;
      }
      case SIDE_MSG_BAR_WRITE:
        answer = false;
        if (!platform->bar_write(dev, static_cast<int>(m.arg[1] & 0xff), m.arg[2], static_cast<unsigned>(m.arg[3]),
                                 m.arg[4])) {
          fault(SIDE_FAULT_MEMORY, "register write outside the device's BARs");
        }
        break;
      case SIDE_MSG_DMA_MAP:
        reply.arg[0] = static_cast<uint64_t>(static_cast<int64_t>(
            platform->dma_map(dev, m.arg[1], m.arg[2], static_cast<int>(static_cast<int64_t>(m.arg[3])))));
        break;
      case SIDE_MSG_DMA_UNMAP:
        reply.arg[0] = static_cast<uint64_t>(static_cast<int64_t>(
            platform->dma_unmap(dev, m.arg[1], m.arg[2], static_cast<int>(static_cast<int64_t>(m.arg[3])))));
        break;
      default:
        fault(SIDE_FAULT_PROTOCOL, "unknown device request " + std::to_string(m.type));
        reply.arg[0] = static_cast<uint64_t>(-EINVAL);
    }
  }
  if (!answer) return;
  if (!ch_.reply(cpu).push(reply)) {
    fault(SIDE_FAULT_PROTOCOL, ch_.reply(cpu).broken() ? "the domain corrupted the indices of its reply ring"
                                                       : "the domain does not take its replies");
    return;
  }
  ipc::Doorbell(&ch_.header().reply_bell[cpu]).ring(1);
}

void ChannelServer::fault(int kind, std::string message, std::string location) {
  if (h_.fault) h_.fault(kind, std::move(message), std::move(location));
}

}  // namespace side::supervisor
