#include "session/traffic_peer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <numeric>
#include <optional>

#include "common/counters.h"

namespace side::session {
using supervisor::DriverDomain;
namespace {

constexpr uint8_t kDirTx = 0, kDirRx = 1;
constexpr size_t kMinFrame = 60, kMaxFrame = 1514;
constexpr size_t kHeader = 14 + 4 + 1 + 1 + 8 + 2;  // Ethernet, magic, direction, pad, sequence, length
constexpr uint8_t kMagic[4] = {'S', 'I', 'D', 'E'};

// Word k (8 bytes) of the payload of frame `seq` in `direction`. Words differ between frames, positions and
// directions, so a corrupted, shifted, truncated or swapped payload cannot pass; a word at a time keeps the peer's
// own cost per frame small next to the driver's.
uint64_t payload_word(uint64_t seq, uint8_t direction, size_t k) {
  uint64_t x = (seq * 0x9e3779b97f4a7c15ull) ^ (k * 0xbf58476d1ce4e5b9ull) ^ direction;
  x ^= x >> 31;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 29);
}

}  // namespace

LatencySummary LatencySummary::of(std::vector<uint64_t> ns) {
  LatencySummary s;
  s.samples = ns.size();
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  // Nearest rank in integers: the rank of percentile p is ceil(p * n / 100), at least 1.
  auto at = [&](uint64_t percent) {
    uint64_t rank = std::max<uint64_t>(1, (percent * ns.size() + 99) / 100);
    return static_cast<double>(ns[rank - 1]) / 1e3;
  };
  s.min_us = static_cast<double>(ns.front()) / 1e3;
  s.p50_us = at(50);
  s.p90_us = at(90);
  s.p99_us = at(99);
  s.max_us = static_cast<double>(ns.back()) / 1e3;
  s.mean_us = std::accumulate(ns.begin(), ns.end(), 0.0) / static_cast<double>(ns.size()) / 1e3;
  return s;
}

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
  for (size_t i = kHeader, k = 0; i < size; i += 8, ++k) {
    const uint64_t w = payload_word(seq, direction, k);
    std::memcpy(&f[i], &w, std::min<size_t>(8, size - i));
  }
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
  for (size_t i = kHeader, k = 0; i < f.size(); i += 8, ++k) {
    const uint64_t w = payload_word(seq, direction, k);
    if (std::memcmp(&f[i], &w, std::min<size_t>(8, f.size() - i)) != 0) {
      *corrupt = true;
      break;
    }
  }
  return seq;
}

TrafficPeer::TrafficPeer(DriverDomain& domain, net::Nic& nic, uint64_t netdev, std::array<uint8_t, 6> nic_mac)
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
    // The sender is woken once a batch of its window has come back, not for every frame: a wake-up per frame
    // would cost more than the frame (the sender also wakes by itself every 200 us).
    if (++unnotified_ < kNotifyBatch) return;
    unnotified_ = 0;
  }
  progress_.notify_all();
}

void TrafficPeer::on_wire_frame(std::span<const uint8_t> frame) {
  if (request_response_.load(std::memory_order_relaxed))
    take_response(frame);
  else
    check(frame, kDirTx);
}

void TrafficPeer::rx(uint64_t token, std::span<const uint8_t> frame, uint32_t /*csum*/) {
  if (token != netdev_) return;
  if (request_response_.load(std::memory_order_relaxed))
    answer_request(frame);
  else
    check(frame, kDirRx);
}

// The host side of an exchange. It answers on the thread that delivered the request (in-process, the domain's
// vCPU 1 inside the driver's NAPI poll; in a domain process, the supervisor's channel thread), holding mutex_ while
// it submits: submit_tx never blocks (it refuses when full), and no domain calls back into the peer while holding a
// lock of its own, so the order mutex_ -> domain locks cannot deadlock.
void TrafficPeer::answer_request(std::span<const uint8_t> frame) {
  bool corrupt = false;
  auto seq = check_frame(frame, kDirRx, &corrupt);
  {
    std::lock_guard lock(mutex_);
    DirectionResult& d = result_.rx;
    if (!seq) {
      ++result_.foreign_frames;
      return;
    }
    if (corrupt) {
      // Only one request is ever in flight, so this is it (its sequence number may be the damaged part): the
      // exchange failed, and is not timed.
      ++d.corrupt;
      if (exchange_ == Exchange::kRequest) exchange_ = Exchange::kIdle;
    } else if (exchange_ == Exchange::kRequest && *seq == exchange_seq_) {
      ++d.verified;
      d.bytes += frame.size();
      exchange_ = Exchange::kRespond;
      submit_response();
    } else if (late_ok_[kDirRx].erase(*seq)) {
      // Its exchange timed out already: delivered after all, but nobody waits for an answer any more.
      --d.lost;
      ++d.verified;
      d.bytes += frame.size();
    } else {
      ++d.out_of_order;  // a duplicate, or a request the peer never sent now
    }
  }
  progress_.notify_all();
}

bool TrafficPeer::submit_response() {
  auto f = make_frame(kDirTx, exchange_seq_, size_for(exchange_seq_, fixed_size_), peer_mac_, nic_mac_);
  if (!domain_.submit_tx(netdev_, f)) {
    ++result_.tx.retries;
    return false;
  }
  ++result_.tx.sent;
  exchange_ = Exchange::kResponse;
  return true;
}

void TrafficPeer::take_response(std::span<const uint8_t> frame) {
  // The round trip ends as the response leaves the NIC, not after checking it.
  const auto now = std::chrono::steady_clock::now();
  bool corrupt = false;
  auto seq = check_frame(frame, kDirTx, &corrupt);
  {
    std::lock_guard lock(mutex_);
    DirectionResult& d = result_.tx;
    if (!seq) {
      ++result_.foreign_frames;
      return;
    }
    if (corrupt) {
      ++d.corrupt;
      if (exchange_ == Exchange::kResponse) exchange_ = Exchange::kIdle;
    } else if (exchange_ == Exchange::kResponse && *seq == exchange_seq_) {
      ++d.verified;
      d.bytes += frame.size();
      rtt_ns_.push_back(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - exchange_start_).count()));
      result_.latency.samples = rtt_ns_.size();
      exchange_ = Exchange::kIdle;
    } else if (late_ok_[kDirTx].erase(*seq)) {
      // A response the restarted driver sent after its exchange timed out (requeued by the recovery).
      --d.lost;
      ++d.verified;
      d.bytes += frame.size();
    } else {
      ++d.out_of_order;
    }
  }
  progress_.notify_all();
}

void TrafficPeer::tx_wake(uint64_t /*token*/) {
  progress_.notify_all();
}

TrafficResult TrafficPeer::snapshot() {
  std::lock_guard lock(mutex_);
  return result_;
}

// A request from the peer onto the wire. The state is set before the request reaches the NIC: the host side may
// answer before receive() returns.
bool TrafficPeer::start_exchange(const TrafficConfig& config, uint64_t& next, std::unique_lock<AdaptiveMutex>& lock) {
  auto f = make_frame(kDirRx, next, size_for(next, fixed_size_), nic_mac_, peer_mac_);
  if (config.on_inject) {
    lock.unlock();
    config.on_inject(f);
    lock.lock();
  }
  exchange_seq_ = next;
  exchange_ = Exchange::kRequest;
  exchange_start_ = std::chrono::steady_clock::now();
  lock.unlock();
  net::RxResult r = nic_.receive(f);
  lock.lock();
  if (r == net::RxResult::kAccepted) {
    result_.rx.sent = ++next;
    return true;
  }
  // No free descriptor (the driver has not refilled yet): the wire would lose it; the peer resends.
  exchange_ = Exchange::kIdle;
  ++result_.rx.retries;
  return false;
}

// Lost (with a restarted driver, say): counted in the direction it was lost in, not timed; the next starts.
void TrafficPeer::drop_timed_out_exchange() {
  if (exchange_ != Exchange::kRespond) {
    const uint8_t dir = exchange_ == Exchange::kRequest ? kDirRx : kDirTx;
    ++(dir == kDirRx ? result_.rx : result_.tx).lost;
    late_ok_[dir].insert(exchange_seq_);
  }
  ++result_.exchanges_lost;
  exchange_ = Exchange::kIdle;
}

TrafficResult TrafficPeer::run_request_response(const TrafficConfig& config) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto seconds = [](clock::duration d) { return std::chrono::duration<double>(d).count(); };
  const uint64_t limit = config.packets ? config.packets : UINT64_MAX;
  uint64_t next = 0, last_verified = 0;
  auto last_progress = start;
  bool sending = true;
  std::unique_lock lock(mutex_);
  fixed_size_ = config.frame_size;
  request_response_ = true;
  for (;;) {
    if (domain_.faulty()) {
      result_.domain_faulted = true;
      break;
    }
    const auto now = clock::now();
    if (config.on_tick) {
      TrafficResult so_far = result_;
      lock.unlock();
      config.on_tick(seconds(now - start), so_far);
      lock.lock();
    }
    if (config.duration_s > 0 && seconds(now - start) >= config.duration_s) sending = false;
    if (config.stop && config.stop->load()) sending = false;
    if (uint64_t verified = result_.tx.verified + result_.rx.verified; verified != last_verified) {
      last_verified = verified;
      last_progress = now;
    } else if (seconds(now - last_progress) > config.stall_timeout_s) {
      result_.stalled = true;  // exchanges keep timing out: the driver is not coming back
      break;
    }
    if (exchange_ == Exchange::kIdle) {
      if (!sending || next >= limit) break;
      if (start_exchange(config, next, lock)) continue;
    } else if (seconds(now - exchange_start_) > config.exchange_timeout_s) {
      drop_timed_out_exchange();
      continue;
    } else if (exchange_ == Exchange::kRespond && submit_response()) {
      continue;
    }
    progress_.wait_for(lock, std::chrono::microseconds(200));
  }
  request_response_ = false;
  result_.elapsed_s = seconds(clock::now() - start);
  result_.latency = LatencySummary::of(rtt_ns_);
  TrafficResult r = result_;
  r.rtt_ns = std::move(rtt_ns_);
  rtt_ns_.clear();
  return r;
}

// After a driver restart, frames still missing once nothing has moved for a while were lost with the old driver
// (the window is then full of them, so nothing new moves either).
void TrafficPeer::count_restart_losses(uint64_t tx_sent, uint64_t rx_sent) {
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
}

// Frames for the driver to transmit, up to the window. Whether one was submitted.
bool TrafficPeer::fill_tx_window(const TrafficConfig& config, uint64_t limit, uint64_t tx_done, uint64_t& tx_sent) {
  bool sent = false;
  while (config.transmit && tx_sent < limit && tx_done <= tx_sent && tx_sent - tx_done < config.window) {
    auto f = make_frame(kDirTx, tx_sent, size_for(tx_sent, fixed_size_), peer_mac_, nic_mac_);
    if (!domain_.submit_tx(netdev_, f)) {
      std::lock_guard lock(mutex_);
      ++result_.tx.retries;
      break;
    }
    ++tx_sent;
    sent = true;
  }
  return sent;
}

// Frames onto the wire for the driver to receive, up to the window. Whether one was accepted.
bool TrafficPeer::fill_rx_window(const TrafficConfig& config, uint64_t limit, uint64_t rx_done, uint64_t& rx_sent) {
  bool sent = false;
  while (config.receive && rx_sent < limit && rx_done <= rx_sent && rx_sent - rx_done < config.window) {
    auto f = make_frame(kDirRx, rx_sent, size_for(rx_sent, fixed_size_), nic_mac_, peer_mac_);
    if (config.on_inject) config.on_inject(f);
    if (nic_.receive(f) != net::RxResult::kAccepted) {
      // No free descriptor (the driver has not refilled yet): the wire would lose it; the peer resends.
      std::lock_guard lock(mutex_);
      ++result_.rx.retries;
      break;
    }
    ++rx_sent;
    sent = true;
  }
  return sent;
}

// Frames accounted for, per direction (tx, rx): verified, corrupt, out of order or lost.
std::pair<uint64_t, uint64_t> TrafficPeer::done_counts() {
  std::lock_guard lock(mutex_);
  auto done = [](const DirectionResult& d) { return d.verified + d.corrupt + d.out_of_order + d.lost; };
  return {done(result_.tx), done(result_.rx)};
}

TrafficResult TrafficPeer::locked_result() {
  std::lock_guard lock(mutex_);
  return result_;
}

TrafficResult TrafficPeer::run(const TrafficConfig& config) {
  if (config.request_response) return run_request_response(config);
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
    const auto [tx_done, rx_done] = done_counts();
    const double now = elapsed();
    if (domain_.generation() != generation_seen_ && now - last_progress > config.restart_grace_s) {
      count_restart_losses(tx_sent, rx_sent);
      last_progress = now;
      continue;
    }
    if (config.on_tick) config.on_tick(now, locked_result());
    if (config.duration_s > 0 && now >= config.duration_s) sending = false;
    if (config.stop && config.stop->load()) sending = false;
    const bool tx_finished = !config.transmit || (tx_done >= tx_sent && (!sending || tx_sent >= limit));
    const bool rx_finished = !config.receive || (rx_done >= rx_sent && (!sending || rx_sent >= limit));
    if (tx_finished && rx_finished) break;
    if (tx_done + rx_done != last_done) {
      last_done = tx_done + rx_done;
      last_progress = now;
    } else if (now - last_progress > config.stall_timeout_s) {
      std::lock_guard lock(mutex_);
      result_.stalled = true;
      break;
    } else if (!sending && now - last_progress > config.drain_timeout_s) {
      std::lock_guard lock(mutex_);
      result_.tx.lost += counter_growth(tx_done, tx_sent);
      result_.rx.lost += counter_growth(rx_done, rx_sent);
      break;
    }
    bool did_something = false;
    if (sending) did_something |= fill_tx_window(config, limit, tx_done, tx_sent);
    if (sending) did_something |= fill_rx_window(config, limit, rx_done, rx_sent);
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

}  // namespace side::session
#include "common/counters.h"
