#include "bench/frame_relay.h"

#include <unistd.h>

#include "ipc/doorbell.h"

namespace side::bench {
namespace {

// As a domain process's service thread waits (DomainProcess, streamlined crossing): spin this long, then sleep.
constexpr uint64_t kSpinNs = 20'000;
constexpr uint64_t kSleepNs = 5'000'000;
constexpr size_t kBatch = 64;  // frames per lane per round, so neither direction starves the other

}  // namespace

FrameRelay::FrameRelay(std::array<uint8_t, 6> mac) : mac_(mac), buffer_(kSlotSize) {
  for (Lane* lane : {&to_wire_, &to_host_}) {
    lane->memory.assign(ipc::Ring::bytes_needed(kSlots, kSlotSize), 0);
    lane->ring = ipc::Ring(lane->memory.data(), kSlots, kSlotSize);
    lane->ring.initialize();
  }
}

FrameRelay::~FrameRelay() {
  stop();
}

void FrameRelay::start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void FrameRelay::stop() {
  stop_ = true;
  ipc::Doorbell(&bell_word_).ring(1);
  if (thread_.joinable()) thread_.join();
}

FrameRelay::Counters FrameRelay::relay_counters() const {
  return {relayed_to_wire_.load(), relayed_to_host_.load(), wake_ups_.load()};
}

int FrameRelay::pid() const {
  return static_cast<int>(getpid());
}

Result<std::string> FrameRelay::load(const domain::LoadRequest& /*request*/) {
  return make_error("the relay runs no driver");
}

Result<ipc::ControlAnswer> FrameRelay::transact(const ipc::ControlRequest& /*request*/) {
  return make_error("the relay runs no driver");
}

Status FrameRelay::kill() {
  return make_error("the relay runs no driver to kill");
}

// A frame into a lane (one copy, into the ring), and the relay's thread woken if it sleeps. False if the lane is
// full (or the frame larger than a slot): the caller retries, as it would with a driver's full queue.
bool FrameRelay::push(Lane& lane, std::span<const uint8_t> frame) {
  side_msg h{};
  h.type = SIDE_MSG_RX_FRAME;
  {
    std::lock_guard lock(lane.producers);
    if (!lane.ring.push(h, frame)) return false;
  }
  ipc::Doorbell(&bell_word_).ring(1);
  return true;
}

bool FrameRelay::submit_tx(uint64_t netdev, std::span<const uint8_t> frame, const side_tx_offload&) {
  return netdev == kToken && push(to_wire_, frame);
}

net::RxResult FrameRelay::receive(std::span<const uint8_t> frame) {
  if (!link_) return net::RxResult::kDroppedLinkDown;
  return push(to_host_, frame) ? net::RxResult::kAccepted : net::RxResult::kDroppedNoDescriptors;
}

void FrameRelay::set_frame_sink(net::FrameSink sink) {
  std::lock_guard lock(sink_mu_);
  sink_ = std::move(sink);
}

net::NicCounters FrameRelay::nic_counters() const {
  net::NicCounters c;
  c.tx_frames = relayed_to_wire_.load();
  c.rx_frames = relayed_to_host_.load();
  return c;
}

// Up to kBatch frames out of a lane (the second copy, out of the ring, as the channel server copies a frame out
// before it looks at it), each handed to its side. The number relayed.
size_t FrameRelay::drain(Lane& lane, bool to_wire) {
  size_t n = 0;
  std::unique_lock sink_lock(sink_mu_, std::defer_lock);
  if (to_wire) sink_lock.lock();
  for (; n < kBatch; ++n) {
    side_msg h{};
    const long len = lane.ring.pop(h, buffer_);
    if (len < 0) break;
    const std::span<const uint8_t> frame(buffer_.data(), static_cast<size_t>(len));
    if (to_wire) {
      if (sink_) sink_(frame);
    } else if (auto* r = receiver_.load()) {
      r->rx(kToken, frame, 0);
    }
  }
  (to_wire ? relayed_to_wire_ : relayed_to_host_).fetch_add(n, std::memory_order_relaxed);
  return n;
}

void FrameRelay::run() {
  ipc::Doorbell bell(&bell_word_);
  while (!stop_.load()) {
    const size_t moved = drain(to_wire_, true) + drain(to_host_, false);
    if (moved) continue;
    if (bell.wait(kSpinNs, kSleepNs)) wake_ups_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace side::bench
