#include "domain/remote_platform.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/clock.h"
#include "domain/domain.h"
#include "domain/layout.h"
#include "ipc/doorbell.h"

namespace side::domain {
namespace {

constexpr uint64_t kReplyTimeoutNs = 10'000'000'000;  // the supervisor is gone, or wedged

// Pushes with bounded waiting: the consumer drains continuously, so a full ring is transient. The clock is read only
// once the ring was found full: a frame or posted write is one push, and a clock read costs as much.
bool push_bounded(ipc::Ring& ring, const side_msg& msg, std::span<const uint8_t> payload) {
  if (ring.push(msg, payload)) return true;
  const uint64_t deadline = monotonic_ns() + 1'000'000'000;
  while (!ring.push(msg, payload)) {
    if (ring.broken() || monotonic_ns() > deadline) return false;
    sched_yield();
  }
  return true;
}

}  // namespace

template <class M>
Result<ipc::DeviceReply::Args> RemotePlatform::device_request(const typename M::Args& args, bool want_reply,
                                                              uint32_t copies) {
  // What the supervisor would refuse as malformed is refused here, as the driver's error: it never leaves.
  auto h = ipc::encode<M>(args, {});
  if (!h) return h.error();
  return device_exchange(*h, want_reply, copies);
}

Result<ipc::DeviceReply::Args> RemotePlatform::device_exchange(const side_msg& request, bool want_reply,
                                                               uint32_t copies) {
  int cpu = Domain::current_vcpu();
  if (cpu < 0 || cpu >= static_cast<int>(ipc::kChannelVcpus)) return make_error("device access from outside a vCPU");
  side_msg m = request;
  m.cookie = cookies_.fetch_add(1);
  // Noted before the write is pushed: a vCPU that sees the note after taking a lock this one released waits for the
  // supervisor to serve the write (or asks the device, behind it).
  for (unsigned i = 0; i < ipc::kRegisterShadows; ++i) {
    if (copies & (1u << i)) stale_[i][cpu].store(m.cookie, std::memory_order_release);
  }
  if (!push_bounded(ch_.device(cpu), m, {})) return make_error("the supervisor does not take requests");
  ipc::Doorbell(&ch_.header().supervisor_bell).ring(ipc::kBellDevice);
  if (!want_reply) return ipc::DeviceReply::Args{};
  ipc::Doorbell bell(&ch_.header().reply_bell[cpu]);
  const uint64_t deadline = monotonic_ns() + kReplyTimeoutNs;
  for (;;) {
    side_msg reply{};
    uint8_t none[1];
    long n = ch_.reply(cpu).pop(reply, std::span(none, 0));
    if (n >= 0) {
      // Replies come in request order on this vCPU's ring: anything else is a broken supervisor.
      auto d = ipc::decode<ipc::DeviceReply>(reply, {});
      if (!d || d->cookie != m.cookie) return make_error("reply out of order");
      return d->args;
    }
    if (ch_.reply(cpu).broken() || monotonic_ns() > deadline) return make_error("no reply from the supervisor");
    bell.wait(reply_spins_[cpu], 10'000'000);
  }
}

// Every write posted before that copy `index` waits for, from every vCPU, is carried out.
bool RemotePlatform::copy_current(unsigned index) const {
  auto& h = const_cast<ipc::Channel&>(ch_).header();
  for (unsigned c = 0; c < ipc::kChannelVcpus; ++c) {
    if (h.served[c].load(std::memory_order_acquire) < stale_[index][c].load(std::memory_order_acquire)) return false;
  }
  return true;
}

// Spins (adaptively, as long as spinning has paid lately on this vCPU) for the supervisor to carry out the writes
// copy `index` waits for. A supervisor that is not running needs the CPU this vCPU spins on: then the read asks
// the device and sleeps for the answer instead, which costs what a read without a copy costs.
bool RemotePlatform::wait_for_copy(unsigned index) {
  const int cpu = Domain::current_vcpu();
  if (cpu < 0 || cpu >= static_cast<int>(ipc::kChannelVcpus)) return false;
  ipc::AdaptiveSpin& spin = copy_spins_[static_cast<unsigned>(cpu)];
  const uint64_t start = monotonic_ns(), deadline = start + spin.next();
  for (unsigned turn = 1;; ++turn) {
    __builtin_ia32_pause();
    if (copy_current(index)) {
      spin.caught(monotonic_ns() - start);
      return true;
    }
    if (turn % 16 == 0 && monotonic_ns() > deadline) {
      spin.missed();
      return false;
    }
  }
}

std::optional<uint32_t> RemotePlatform::shadowed(uint32_t dev, int bar, uint64_t offset, unsigned width) {
  const uint32_t key = width == 4 ? ipc::shadow_key(dev, bar, offset) : 0;
  if (!key) return std::nullopt;
  for (unsigned i = 0; i < ipc::kRegisterShadows; ++i) {
    auto& s = ch_.header().shadows[i];
    const uint32_t k = s.key.load(std::memory_order_acquire);
    if ((k & ~ipc::kShadowKinds) != key || !(k & ipc::kShadowCopy)) continue;
    // The writes it waits for are usually being carried out right now: waiting for them costs the supervisor no
    // reply and this vCPU no wake-up. Bounded: a supervisor that is not running is asked (and waited for) properly.
    if (!copy_current(i) && !wait_for_copy(i)) return std::nullopt;
    return s.value.load(std::memory_order_acquire);
  }
  return std::nullopt;
}

uint32_t RemotePlatform::copies_waiting_for(uint32_t dev, int bar, uint64_t offset, unsigned width) const {
  const uint32_t key = width == 4 ? ipc::shadow_key(dev, bar, offset) : 0;
  if (!key) return kAllCopies;
  auto& h = const_cast<ipc::Channel&>(ch_).header();
  for (unsigned i = 0; i < ipc::kRegisterShadows; ++i) {
    const uint32_t k = h.shadows[i].key.load(std::memory_order_acquire);
    if ((k & ~ipc::kShadowKinds) == key && (k & ipc::kShadowCopy) && (k & ipc::kShadowPrivate)) return 1u << i;
  }
  return kAllCopies;
}

Result<uint32_t> RemotePlatform::config_read(uint32_t dev, uint32_t offset, unsigned width) {
  auto r = device_request<ipc::ConfigRead>({dev, offset, width}, true);
  if (!r) return r.error();
  if (r->status != 0) return make_error("config read refused");
  return static_cast<uint32_t>(r->value);
}

Status RemotePlatform::config_write(uint32_t dev, uint32_t offset, unsigned width, uint32_t value) {
  auto r = device_request<ipc::ConfigWrite>({dev, offset, width, value}, false, kAllCopies);
  if (!r) return r.error();
  return {};
}

Result<uint64_t> RemotePlatform::bar_read(uint32_t dev, int bar, uint64_t offset, unsigned width) {
  if (auto copy = shadowed(dev, bar, offset, width)) {
    shadow_reads_.fetch_add(1, std::memory_order_relaxed);
    return *copy;
  }
  auto r = device_request<ipc::BarRead>({dev, static_cast<uint32_t>(bar), offset, width}, true);
  if (!r) return r.error();
  if (r->status != 0) return make_error("access outside the device's BARs");
  return r->value;
}

Status RemotePlatform::bar_write(uint32_t dev, int bar, uint64_t offset, unsigned width, uint64_t value) {
  auto r = device_request<ipc::BarWrite>({dev, static_cast<uint32_t>(bar), offset, width, value}, false,
                                         copies_waiting_for(dev, bar, offset, width));
  if (!r) return r.error();
  return {};
}

int RemotePlatform::dma_change(bool map, uint32_t dev, uint64_t phys, uint64_t size, int dir) {
  const ipc::DmaArgs args{dev, dir, phys, size};
  if (!ipc::valid_dma(args)) return -EINVAL;
  if (options_.posted_dma) {
    // The supervisor refuses anything outside the arena; refusing it here too keeps the driver's error synchronous.
    // An unmap that does not match a mapping is detected by the supervisor, as a fault of the driver.
    if (phys < kArenaPhysBase || phys - kArenaPhysBase > options_.arena_bytes ||
        size > options_.arena_bytes - (phys - kArenaPhysBase)) {
      return -EINVAL;
    }
    const bool sent = map ? send<ipc::DmaMapPosted>(args) : send<ipc::DmaUnmapPosted>(args);
    return sent ? 0 : -EIO;
  }
  auto r = map ? device_request<ipc::DmaMap>(args, true) : device_request<ipc::DmaUnmap>(args, true);
  return r ? static_cast<int>(r->status) : -EIO;
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

void RemotePlatform::reply(uint64_t cookie, const ipc::ControlAnswer& answer) {
  // An explanation longer than a message holds is cut: the supervisor still learns the request failed.
  std::span<const uint8_t> payload(answer.payload);
  if (answer.status != 0) payload = payload.first(std::min<size_t>(payload.size(), ipc::kMaxText));
  auto h = ipc::encode<ipc::ControlReply>({answer.status}, payload, cookie);
  if (h) send_event(*h, payload);
}

int RemotePlatform::netdev_register(const side_netdev_info& info) {
  // Registration is announced; the supervisor refuses duplicates by failing the domain, not the call.
  return send<ipc::NetdevRegister>({}, ipc::PayloadTraits<ipc::NetdevRegister::Payload>::bytes(info)) ? 0 : -ENOSPC;
}

void RemotePlatform::netdev_unregister(uint64_t token) {
  send<ipc::NetdevUnregister>({token});
}

void RemotePlatform::netdev_carrier(uint64_t token, bool on) {
  send<ipc::Carrier>({token, on ? 1u : 0u});
}

void RemotePlatform::netdev_changed(const side_netdev_info& info) {
  send<ipc::NetdevChanged>({}, ipc::PayloadTraits<ipc::NetdevChanged::Payload>::bytes(info));
}

void RemotePlatform::netdev_tx_wake(uint64_t token, uint32_t queue) {
  send<ipc::TxWake>({token, queue});
}

// A completion that finds no room within the bound is lost: the supervisor's timeout then fails the request.
void RemotePlatform::block_done(uint64_t tag, int32_t status) {
  send<ipc::BlockDone>({tag, status});
}

void RemotePlatform::netdev_rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) {
  auto h = ipc::encode<ipc::RxFrame>({token, csum}, frame);
  bool ok;
  {
    std::lock_guard lock(rx_mutex_);
    ok = h && frame.size() <= ch_.rx().max_payload() && push_bounded(ch_.rx(), *h, frame);
  }
  // A frame that finds no room is lost, as on a congested link (the receiver counts the gap).
  if (ok) ipc::Doorbell(&ch_.header().supervisor_bell).ring(ipc::kBellRx);
}

}  // namespace side::domain
