#include "supervisor/traffic_peer.h"

#include <chrono>
#include <cstring>
#include <optional>

namespace side::supervisor {
namespace {

constexpr uint8_t kDirTx = 0, kDirRx = 1;
constexpr size_t kMinFrame = 60, kMaxFrame = 1514;
constexpr size_t kHeader = 14 + 4 + 1 + 1 + 8 + 2;  // Ethernet, magic, direction, pad, sequence, length
constexpr uint8_t kMagic[4] = {'S', 'I', 'D', 'E'};

uint8_t payload_byte(uint64_t seq, uint8_t direction, size_t i) {
  uint64_t x = seq * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull + direction;
  return static_cast<uint8_t>((x >> 29) ^ (x >> 47));
}

}  // namespace

size_t TrafficPeer::size_for(uint64_t seq, size_t fixed_size) {
  if (fixed_size) return fixed_size;
  return kMinFrame + (seq * 7919) % (kMaxFrame - kMinFrame + 1);
}

std::vector<uint8_t> TrafficPeer::make_frame(uint8_t direction, uint64_t seq, size_t size,
                                             const std::array<uint8_t, 6>& dst, const std::array<uint8_t, 6>& src) {
  std::vector<uint8_t> f(size);
  std::memcpy(&f[0], dst.data(), 6);
  std::memcpy(&f[6], src.data(), 6);
  f[12] = kEtherType >> 8;
  f[13] = kEtherType & 0xff;
  std::memcpy(&f[14], kMagic, 4);
  f[18] = direction;
  f[19] = 0;
  for (int i = 0; i < 8; ++i) f[20 + i] = static_cast<uint8_t>(seq >> (8 * i));
  f[28] = static_cast<uint8_t>(size);
  f[29] = static_cast<uint8_t>(size >> 8);
  for (size_t i = kHeader; i < size; ++i) f[i] = payload_byte(seq, direction, i);
  return f;
}

std::optional<uint64_t> TrafficPeer::check_frame(std::span<const uint8_t> f, uint8_t direction, bool* corrupt) {
  *corrupt = false;
  if (f.size() < kHeader || f[12] != (kEtherType >> 8) || f[13] != (kEtherType & 0xff) ||
      std::memcmp(&f[14], kMagic, 4) != 0 || f[18] != direction) {
    return std::nullopt;
  }
  uint64_t seq = 0;
  for (int i = 0; i < 8; ++i) seq |= uint64_t{f[20 + i]} << (8 * i);
  size_t len = f[28] | (size_t{f[29]} << 8);
  if (len != f.size()) {
    *corrupt = true;
    return seq;
  }
  for (size_t i = kHeader; i < f.size(); ++i) {
    if (f[i] != payload_byte(seq, direction, i)) {
      *corrupt = true;
      break;
    }
  }
  return seq;
}

TrafficPeer::TrafficPeer(DriverDomain& domain, e1000::E1000& nic, uint64_t netdev, std::array<uint8_t, 6> nic_mac)
    : domain_(domain), nic_(nic), netdev_(netdev), nic_mac_(nic_mac) {}

void TrafficPeer::check(std::span<const uint8_t> frame, uint8_t direction) {
  bool corrupt = false;
  auto seq = check_frame(frame, direction, &corrupt);
  {
    std::lock_guard lock(mutex_);
    DirectionResult& d = direction == kDirTx ? result_.tx : result_.rx;
    if (!seq) {
      ++result_.foreign_frames;
      return;
    }
    if (corrupt) {
      ++d.corrupt;
    } else if (*seq >= lost_lo_[direction] && *seq < lost_hi_[direction] && d.lost > 0) {
      // Declared lost after a restart, but only late (requeued by the recovery): it counts as delivered.
      --d.lost;
      ++d.verified;
      d.bytes += frame.size();
    } else if (*seq < expect_[direction]) {
      ++d.out_of_order;  // a duplicate, or one that overtook another
    } else {
      // Frames skipped over were lost (a driver restart drops what was in flight on the receive side).
      d.lost += *seq - expect_[direction];
      ++d.verified;
      d.bytes += frame.size();
    }
    if (*seq >= expect_[direction]) expect_[direction] = *seq + 1;
  }
  progress_.notify_all();
}

void TrafficPeer::on_wire_frame(std::span<const uint8_t> frame) {
  check(frame, kDirTx);
}

void TrafficPeer::rx(uint64_t token, std::span<const uint8_t> frame, uint32_t /*csum*/) {
  if (token != netdev_) return;
  check(frame, kDirRx);
}

void TrafficPeer::tx_wake(uint64_t /*token*/) {
  progress_.notify_all();
}

TrafficResult TrafficPeer::snapshot() {
  std::lock_guard lock(mutex_);
  return result_;
}

TrafficResult TrafficPeer::run(const TrafficConfig& config) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(clock::now() - start).count(); };
  const uint64_t limit = config.packets ? config.packets : UINT64_MAX;
  fixed_size_ = config.frame_size;
  generation_seen_ = domain_.generation();
  uint64_t tx_sent = 0, rx_sent = 0, last_done = 0;
  double last_progress = 0;
  bool sending = true;
  for (;;) {
    if (domain_.faulty()) {
      std::lock_guard lock(mutex_);
      result_.domain_faulted = true;
      break;
    }
    uint64_t tx_done, rx_done;
    {
      std::lock_guard lock(mutex_);
      tx_done = result_.tx.verified + result_.tx.corrupt + result_.tx.out_of_order + result_.tx.lost;
      rx_done = result_.rx.verified + result_.rx.corrupt + result_.rx.out_of_order + result_.rx.lost;
    }
    double now = elapsed();
    // After a driver restart, frames still missing once nothing has moved for a while were lost with the old
    // driver (the window is then full of them, so nothing new moves either).
    if (domain_.generation() != generation_seen_ && now - last_progress > config.restart_grace_s) {
      generation_seen_ = domain_.generation();
      std::lock_guard lock(mutex_);
      const uint64_t sent[2] = {tx_sent, rx_sent};
      DirectionResult* dr[2] = {&result_.tx, &result_.rx};
      for (int dir = 0; dir < 2; ++dir) {
        if (sent[dir] <= expect_[dir]) continue;
        dr[dir]->lost += sent[dir] - expect_[dir];
        lost_lo_[dir] = expect_[dir];
        lost_hi_[dir] = sent[dir];
        expect_[dir] = sent[dir];
      }
      last_progress = now;
      continue;
    }
    if (config.on_tick) {
      TrafficResult so_far;
      {
        std::lock_guard lock(mutex_);
        so_far = result_;
      }
      config.on_tick(now, so_far);
    }
    if (config.duration_s > 0 && now >= config.duration_s) sending = false;
    if (config.stop && config.stop->load()) sending = false;
    bool tx_finished = !config.transmit || (tx_done >= tx_sent && (!sending || tx_sent >= limit));
    bool rx_finished = !config.receive || (rx_done >= rx_sent && (!sending || rx_sent >= limit));
    if (tx_finished && rx_finished) break;
    if (tx_done + rx_done != last_done) {
      last_done = tx_done + rx_done;
      last_progress = now;
    } else if (now - last_progress > config.stall_timeout_s) {
      std::lock_guard lock(mutex_);
      result_.stalled = true;
      break;
    }

    bool did_something = false;
    while (sending && config.transmit && tx_sent < limit && tx_done <= tx_sent && tx_sent - tx_done < config.window) {
      auto f = make_frame(kDirTx, tx_sent, size_for(tx_sent, fixed_size_), peer_mac_, nic_mac_);
      if (!domain_.submit_tx(netdev_, f)) {
        std::lock_guard lock(mutex_);
        ++result_.tx.retries;
        break;
      }
      ++tx_sent;
      did_something = true;
    }
    while (sending && config.receive && rx_sent < limit && rx_done <= rx_sent && rx_sent - rx_done < config.window) {
      auto f = make_frame(kDirRx, rx_sent, size_for(rx_sent, fixed_size_), nic_mac_, peer_mac_);
      if (config.on_inject) config.on_inject(f);
      e1000::RxResult r = nic_.receive(f);
      if (r != e1000::RxResult::kAccepted) {
        // No free descriptor (the driver has not refilled yet): the wire would lose it; the peer resends.
        std::lock_guard lock(mutex_);
        ++result_.rx.retries;
        break;
      }
      ++rx_sent;
      did_something = true;
    }
    std::unique_lock lock(mutex_);
    result_.tx.sent = tx_sent;
    result_.rx.sent = rx_sent;
    if (!did_something) progress_.wait_for(lock, std::chrono::microseconds(200));
  }
  std::lock_guard lock(mutex_);
  result_.tx.sent = tx_sent;
  result_.rx.sent = rx_sent;
  result_.elapsed_s = elapsed();
  return result_;
}

}  // namespace side::supervisor
