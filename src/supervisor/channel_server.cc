#include "supervisor/channel_server.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/clock.h"
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

}  // namespace

bool ChannelServer::drain_events(int limit) {
  bool progress = false;
  std::vector<uint8_t>& payload = events_buffer_;
  for (int i = 0; i < limit; ++i) {
    side_msg m{};
    long n = ch_.events().pop(m, payload);
    if (n < 0) break;
    progress = true;
    if (m.type != SIDE_MSG_DMA_MAP_POSTED && m.type != SIDE_MSG_DMA_UNMAP_POSTED) count(&CrossingCounters::events);
    handle_event(m, std::span(payload.data(), static_cast<size_t>(n)));
  }
  return progress;
}

// A domain numbers its device requests from one counter (the cookie), whichever vCPU makes them. A request that
// happened before another in the driver (a register write made under a lock, and what another vCPU does after
// taking that lock) was pushed before the other's number was even taken, so the ring heads' cookies order them.
// Serving the rings one after another instead let a later read overtake an earlier posted write of another vCPU:
// x86 keeps uncached MMIO writes ahead of a later unlock (the kernel's mmiowb() is empty there), and drivers rely on
// it for a command and its result under one lock (e100's SCB command byte, vmxnet3's BAR1 command register).
int ChannelServer::next_device_ring() {
  int best = -1;
  uint64_t best_cookie = 0;
  for (unsigned cpu = 0; cpu < ipc::kChannelVcpus; ++cpu) {
    ipc::Ring::Peeked head;
    if (!ch_.device(cpu).peek(head)) continue;
    // Compared as a distance, so a counter that wraps still orders; a hostile domain only reorders its own requests.
    if (best < 0 || static_cast<int64_t>(head.header.cookie - best_cookie) < 0) {
      best = static_cast<int>(cpu);
      best_cookie = head.header.cookie;
    }
  }
  return best;
}

bool ChannelServer::drain_devices() {
  bool progress = false;
  uint8_t none[1];
  for (unsigned i = 0; i < kBatch * ipc::kChannelVcpus; ++i) {
    const int cpu = next_device_ring();
    if (cpu < 0) break;
    side_msg m{};
    if (ch_.device(cpu).pop(m, std::span(none, 0)) < 0) break;  // a payload on a device ring breaks it
    progress = true;
    handle_device(static_cast<unsigned>(cpu), m);
  }
  return progress;
}

bool ChannelServer::drain_rx() {
  bool progress = false;
  std::vector<uint8_t>& frame = buffer_;
  for (int i = 0; i < kBatch; ++i) {
    side_msg m{};
    long n = ch_.rx().pop(m, frame);
    if (n < 0) break;
    progress = true;
    count(&CrossingCounters::frames_in);
    auto rx = ipc::decode<ipc::RxFrame>(m, std::span(frame.data(), static_cast<size_t>(n)));
    if (!rx) {
      fault(SIDE_FAULT_PROTOCOL, "unexpected message on the receive ring: " + rx.error().message);
      continue;
    }
    domain::deliver_rx(receiver_, platform_, rx->args.netdev, rx->payload, rx->args.csum);
  }
  return progress;
}

bool ChannelServer::drain() {
  bool progress = drain_events(kBatch);
  progress |= drain_devices();
  progress |= drain_rx();
  bool broken = ch_.events().broken() || ch_.rx().broken();
  for (unsigned cpu = 0; cpu < ipc::kChannelVcpus; ++cpu) broken |= ch_.device(cpu).broken();
  if (broken && !broken_reported_) {
    broken_reported_ = true;
    fault(SIDE_FAULT_PROTOCOL, "the domain corrupted a ring's indices or lengths");
  }
  return progress && !broken;
}

void ChannelServer::handle_event(const side_msg& m, std::span<const uint8_t> payload) {
  const bool known = ipc::visit_message(ipc::EventMessages{}, m.type, [&](auto msg) {
    auto d = ipc::decode<decltype(msg)>(m, payload);
    if (d)
      on(*d);
    else
      fault(SIDE_FAULT_PROTOCOL, d.error().message);
  });
  if (!known) fault(SIDE_FAULT_PROTOCOL, "unknown event type " + std::to_string(m.type));
}

// A refusal's payload is the domain's explanation, a success's is data whose type the request gives: the requester
// decodes both (ipc::decode_reply), sanitizing the text.
void ChannelServer::on(const ipc::Decoded<ipc::ControlReply>& m) {
  if (h_.reply) h_.reply(SIDE_MSG_REPLY, m.cookie, m.args.status, m.payload);
}

void ChannelServer::on(const ipc::Decoded<ipc::Ready>& m) {
  if (!h_.reply) return;
  if (m.args.version != SIDE_IPC_VERSION) {
    static const char kWrong[] = "the domain speaks another protocol version";
    h_.reply(SIDE_MSG_READY, 0, -1, std::span(reinterpret_cast<const uint8_t*>(kWrong), sizeof kWrong - 1));
    return;
  }
  h_.reply(SIDE_MSG_READY, 0, m.args.status, bytes(text(m.payload)));
}

void ChannelServer::on(const ipc::Decoded<ipc::Log>& m) {
  log_.line(m.args.level, m.payload, monotonic_ns());
}

void ChannelServer::on(const ipc::Decoded<ipc::Fault>& m) {
  std::string all(reinterpret_cast<const char*>(m.payload.data()), m.payload.size());
  size_t nul = all.find('\0');
  std::string message = text(bytes(all.substr(0, nul)));
  std::string location =
      nul == std::string::npos ? "" : text(bytes(all.substr(nul + 1, all.find('\0', nul + 1) - nul - 1)));
  fault(static_cast<int>(m.args.kind), message, location);
}

void ChannelServer::on(const ipc::Decoded<ipc::NetdevRegister>& m) {
  side_netdev_info info = m.payload;
  sanitize_field(info.name, sizeof info.name);
  if (platform_ && platform_->netdev_register(info) != 0) {
    fault(SIDE_FAULT_PROTOCOL, std::string("network device ") + info.name + " refused");
  }
}

void ChannelServer::on(const ipc::Decoded<ipc::NetdevChanged>& m) {
  side_netdev_info info = m.payload;
  sanitize_field(info.name, sizeof info.name);
  if (platform_) platform_->netdev_changed(info);
}

void ChannelServer::on(const ipc::Decoded<ipc::NetdevUnregister>& m) {
  if (platform_) platform_->netdev_unregister(m.args.token);
}

void ChannelServer::on(const ipc::Decoded<ipc::Carrier>& m) {
  if (platform_) platform_->netdev_carrier(m.args.token, m.args.on != 0);
}

void ChannelServer::on(const ipc::Decoded<ipc::TxWake>& m) {
  if (platform_) platform_->netdev_tx_wake(m.args.token, m.args.queue);
}

// The codec checked the status's range; whether the tag is one in flight is the disk's to judge (driver_disk.h).
void ChannelServer::on(const ipc::Decoded<ipc::BlockDone>& m) {
  if (platform_) platform_->block_done(m.args.tag, m.args.status);
}

// The domain did not wait for this answer, so a refusal can only be reported as the driver's fault: it mapped
// memory that is not its own, or unmapped what it never mapped.
void ChannelServer::posted_dma(bool map, const ipc::DmaArgs& a) {
  count(&CrossingCounters::dma_changes);
  if (!platform_) return;
  int rc = map ? platform_->dma_map(a.dev, a.phys, a.size, a.dir) : platform_->dma_unmap(a.dev, a.phys, a.size, a.dir);
  if (rc != 0) {
    fault(SIDE_FAULT_BAD_ARGUMENT, std::string(map ? "DMA mapping" : "DMA unmapping") + " of " +
                                       std::to_string(a.size) + " bytes at physical address " + std::to_string(a.phys) +
                                       " refused (error " + std::to_string(rc) + ")");
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
  std::optional<ipc::DeviceReply::Args> answer;
  if (!platform_) {
    // Whether or not a device is attached yet: a type that does not exist is never a request to answer.
    if (!is_device_request(m.type)) fault(SIDE_FAULT_PROTOCOL, "unknown device request " + std::to_string(m.type));
    answer = ipc::DeviceReply::Args{is_device_request(m.type) ? -ENODEV : -EINVAL, 0};
  } else {
    answer = serve_device(m);
  }
  count(answer ? &CrossingCounters::device_reads : &CrossingCounters::device_writes);
  // Carried out, with the register copies it changed refreshed: the domain may read those copies now.
  ch_.header().served[cpu].store(m.cookie, std::memory_order_release);
  if (!answer) return;
  if (!ipc::push<ipc::DeviceReply>(ch_.reply(cpu), *answer, {}, m.cookie)) {
    fault(SIDE_FAULT_PROTOCOL, ch_.reply(cpu).broken() ? "the domain corrupted the indices of its reply ring"
                                                       : "the domain does not take its replies");
    return;
  }
  ipc::Doorbell(&ch_.header().reply_bell[cpu]).ring(1);
}

std::optional<ipc::DeviceReply::Args> ChannelServer::serve_device(const side_msg& m) {
  using ipc::DeviceReply;
  auto* p = platform_;
  auto read_answer = [](const auto& r) { return DeviceReply::Args{r ? 0 : -EINVAL, r ? uint64_t{*r} : 0}; };
  // Dispatch on the type first: a decode of the wrong type is an error (built with a message), not a test.
  switch (m.type) {
    case SIDE_MSG_CONFIG_READ:
      if (auto d = ipc::decode<ipc::ConfigRead>(m, {})) {
        return read_answer(p->config_read(d->args.dev, d->args.offset, d->args.width));
      }
      break;
    case SIDE_MSG_CONFIG_WRITE:
      if (auto d = ipc::decode<ipc::ConfigWrite>(m, {})) {
        (void)p->config_write(d->args.dev, d->args.offset, d->args.width, d->args.value);
        return std::nullopt;
      }
      break;
    case SIDE_MSG_BAR_READ:
      if (auto d = ipc::decode<ipc::BarRead>(m, {})) {
        return read_answer(p->bar_read(d->args.dev, static_cast<int>(d->args.bar), d->args.offset, d->args.width));
      }
      break;
    case SIDE_MSG_BAR_WRITE:
      if (auto d = ipc::decode<ipc::BarWrite>(m, {})) {
        const auto& a = d->args;
        if (!p->bar_write(a.dev, static_cast<int>(a.bar), a.offset, a.width, a.value)) {
          fault(SIDE_FAULT_MEMORY, "register write outside the device's BARs");
        }
        return std::nullopt;
      }
      break;
    case SIDE_MSG_DMA_MAP:
      if (auto d = ipc::decode<ipc::DmaMap>(m, {})) {
        return DeviceReply::Args{p->dma_map(d->args.dev, d->args.phys, d->args.size, d->args.dir), 0};
      }
      break;
    case SIDE_MSG_DMA_UNMAP:
      if (auto d = ipc::decode<ipc::DmaUnmap>(m, {})) {
        return DeviceReply::Args{p->dma_unmap(d->args.dev, d->args.phys, d->args.size, d->args.dir), 0};
      }
      break;
    default:
      break;
  }
  // Unknown, or outside its declaration: a fault of the domain; its vCPU gets a refusal rather than no answer.
  fault(SIDE_FAULT_PROTOCOL, "malformed or unknown device request " + std::to_string(m.type));
  return DeviceReply::Args{-EINVAL, 0};
}

void ChannelServer::fault(int kind, std::string message, std::string location) {
  if (h_.fault) h_.fault(kind, std::move(message), std::move(location));
}

}  // namespace side::supervisor
