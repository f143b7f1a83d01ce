// The built-in traffic peer: frames in both directions through a driver, every byte verified.
//
// Transmit direction: the peer hands frames to the domain as the host's network stack would (Domain::submit_tx);
// the driver puts them on the emulated NIC's TX ring; the NIC's wire output comes back here and is checked.
// Receive direction: the peer plays the host at the other end of the cable, injecting frames into the NIC's
// receiver; the driver's NAPI delivers them to the host side (NetListener::rx), where they are checked.
//
// Each frame carries a direction tag, a sequence number and a payload derived from both, so a frame that is
// corrupted, truncated, duplicated, reordered or lost is detected and counted, never mistaken for a good one.
//
// Request/response (TrafficConfig::request_response): one exchange in flight. The peer injects request n into the
// NIC (receive direction); when the driver delivers it, the host side answers at once with response n (transmit
// direction, submitted from the delivering thread); when that response leaves the NIC the peer takes the round-trip
// time and starts exchange n + 1. An exchange not completed within its timeout is counted lost and the run moves on.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <span>
#include <vector>

#include "common/adaptive_mutex.h"
#include "devices/net/nic.h"
#include "supervisor/driver_domain.h"
#include "supervisor/machine.h"

namespace side::session {

struct TrafficConfig {
  uint64_t packets = 0;   // per direction; 0: as many as fit in `duration_s`
  double duration_s = 0;  // 0: until `packets` are done
  size_t frame_size = 0;  // bytes without FCS, 60..1514; 0: sizes vary over the whole range
  bool transmit = true;   // host -> driver -> wire
  bool receive = true;    // wire -> driver -> host
  unsigned window = 128;  // frames in flight per direction
  double stall_timeout_s = 10;
  // How long after a driver restart the frames still missing are counted as lost.
  double restart_grace_s = 0.5;
  // Called from the traffic loop about every millisecond with the time since the start and the counts so far.
  std::function<void(double elapsed_s, const struct TrafficResult& so_far)> on_tick;
  // Ends the run early when set (frames in flight are still awaited).
  const std::atomic<bool>* stop = nullptr;
  // Once sending has stopped (`stop`, `duration_s`), frames in flight still missing after this long without
  // progress are counted lost and the run ends: a driver restarted late (the last fault of a `side inject`
  // campaign) may never deliver them, and the run waited `stall_timeout_s` (an hour for a campaign) for them.
  double drain_timeout_s = 3;
  // Sees every frame the peer puts on the wire towards the NIC (a capture).
  std::function<void(std::span<const uint8_t>)> on_inject;
  // One request/response exchange at a time, timed (see above). `packets` counts exchanges; `transmit`, `receive`
  // and `window` do not apply.
  bool request_response = false;
  // Request/response: an exchange not completed within this (its frames lost with a restarted driver, say) is
  // counted lost, and the next one starts.
  double exchange_timeout_s = 1;
};

// Round-trip times, in microseconds. Percentiles are nearest-rank: p-th is the smallest sample with at least p% of
// the samples at or below it, so every figure is a time that was actually measured.
struct LatencySummary {
  uint64_t samples = 0;
  double min_us = 0, p50_us = 0, p90_us = 0, p99_us = 0, max_us = 0, mean_us = 0;
  static LatencySummary of(std::vector<uint64_t> samples_ns);
};

struct DirectionResult {
  uint64_t sent = 0;
  uint64_t verified = 0;  // arrived intact and in order
  uint64_t corrupt = 0;   // wrong length or contents
  uint64_t out_of_order = 0;
  uint64_t lost = 0;     // never arrived (in flight when a driver was restarted)
  uint64_t bytes = 0;    // verified bytes
  uint64_t retries = 0;  // submissions refused for lack of room (queue full, no RX descriptors)
};

struct TrafficResult {
  DirectionResult tx, rx;
  uint64_t foreign_frames = 0;  // frames that were not the peer's (e.g. the driver's own)
  double elapsed_s = 0;
  bool stalled = false;
  bool domain_faulted = false;
  // Request/response: round trips of the completed exchanges (during the run only `latency.samples` is kept up to
  // date), every round-trip time in order (the final result only), and the exchanges that timed out.
  LatencySummary latency;
  std::vector<uint64_t> rtt_ns;
  uint64_t exchanges_lost = 0;
  uint64_t errors() const { return tx.corrupt + tx.out_of_order + rx.corrupt + rx.out_of_order; }
};

class TrafficPeer final : public supervisor::NetListener {
 public:
  // `netdev` is the driver's network device on `nic`; `nic_mac` its address.
  TrafficPeer(supervisor::DriverDomain& domain, net::Nic& nic, uint64_t netdev, std::array<uint8_t, 6> nic_mac);

  // The NIC's wire output (install with net::Nic::set_frame_sink).
  void on_wire_frame(std::span<const uint8_t> frame);
  // NetListener: frames the driver received.
  void rx(uint64_t token, std::span<const uint8_t> frame, uint32_t csum) override;
  void tx_wake(uint64_t token) override;

  // Runs traffic on the calling thread until done, stalled, or the domain faulted.
  TrafficResult run(const TrafficConfig& config);
  // The counts so far (any thread).
  TrafficResult snapshot();

  // Frame construction and checking, exposed for tests.
  static constexpr uint16_t kEtherType = 0x88b5;  // IEEE 802 local experimental
  static std::vector<uint8_t> make_frame(uint8_t direction, uint64_t seq, size_t size,
                                         const std::array<uint8_t, 6>& dst, const std::array<uint8_t, 6>& src);
  // The sequence number of a well-formed peer frame of `direction`, or nullopt if the frame is not one.
  static std::optional<uint64_t> check_frame(std::span<const uint8_t> frame, uint8_t direction, bool* corrupt);
  static size_t size_for(uint64_t seq, size_t fixed_size);

 private:
  void check(std::span<const uint8_t> frame, uint8_t direction);
  TrafficResult run_request_response(const TrafficConfig& config);
  void answer_request(std::span<const uint8_t> frame);
  void take_response(std::span<const uint8_t> frame);
  bool submit_response();  // mutex_ held
  // Steps of run(): what a restart lost, the window of each direction filled, the counts under the lock.
  void count_restart_losses(uint64_t tx_sent, uint64_t rx_sent);
  bool fill_tx_window(const TrafficConfig& config, uint64_t limit, uint64_t tx_done, uint64_t& tx_sent);
  bool fill_rx_window(const TrafficConfig& config, uint64_t limit, uint64_t rx_done, uint64_t& rx_sent);
  std::pair<uint64_t, uint64_t> done_counts();
  TrafficResult locked_result();
  // Steps of run_request_response() (mutex_ held): start the next exchange (whether the NIC took the request); give up
  // on one that timed out.
  bool start_exchange(const TrafficConfig& config, uint64_t& next, std::unique_lock<AdaptiveMutex>& lock);
  void drop_timed_out_exchange();

  supervisor::DriverDomain& domain_;
  net::Nic& nic_;
  uint64_t netdev_;
  std::array<uint8_t, 6> nic_mac_;
  std::array<uint8_t, 6> peer_mac_{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02};

  AdaptiveMutex mutex_;  // taken per frame by the driver's thread and in every turn of run()'s loop
  std::condition_variable_any progress_;
  TrafficResult result_;
  uint64_t expect_[2] = {0, 0};                         // next sequence number per direction
  uint64_t lost_lo_[2] = {0, 0}, lost_hi_[2] = {0, 0};  // the sequence numbers last declared lost
  size_t fixed_size_ = 0;
  unsigned generation_seen_ = 0;
  static constexpr unsigned kNotifyBatch = 16;
  unsigned unnotified_ = 0;  // frames checked since the sender was last woken

  // Request/response state, under mutex_. An exchange is awaiting its request at the host (kRequest), its response
  // submission (kRespond: the domain refused it for lack of room, the traffic loop retries), or its response on
  // the wire (kResponse); kIdle: none in flight.
  enum class Exchange { kIdle, kRequest, kRespond, kResponse };
  std::atomic<bool> request_response_{false};
  Exchange exchange_ = Exchange::kIdle;
  uint64_t exchange_seq_ = 0;
  std::chrono::steady_clock::time_point exchange_start_;
  std::vector<uint64_t> rtt_ns_;
  // Per direction: sequence numbers of timed-out exchanges counted lost there; one arriving late counts as
  // delivered (not timed, not answered) instead of as a duplicate.
  std::set<uint64_t> late_ok_[2];
};

}  // namespace side::session
