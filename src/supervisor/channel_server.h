// The supervisor's end of a domain's channel: takes every message the domain put in its rings, validates it, and
// carries it out on the Platform (device accesses, DMA permissions, network events, received frames) or hands it
// to the owner (replies, logs, faults). Nothing the domain wrote is trusted: a malformed message, an unknown type
// or corrupted ring indices become a protocol fault of the domain, never a crash, a hang or an unbounded loop of
// the supervisor. Kept apart from the process management so that it can be fuzzed on its own.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "domain/platform.h"
#include "ipc/channel.h"
#include "ipc/codec.h"
#include "supervisor/crossing_counters.h"
#include "supervisor/domain_log.h"

namespace side::supervisor {

class ChannelServer {
 public:
  struct Handlers {
    // A control reply (SIDE_MSG_REPLY: its payload checked later, against the operation the cookie names) or the
    // start-up announcement (SIDE_MSG_READY, cookie 0; its payload sanitized text).
    std::function<void(uint16_t type, uint64_t cookie, int64_t status, std::span<const uint8_t>)> reply;
    std::function<void(int kind, std::string message, std::string location)> fault;
  };

  // At most this many messages per ring per drain(): a busy domain cannot monopolise the service thread.
  static constexpr int kBatch = 256;

  ChannelServer(ipc::Channel& channel, Handlers handlers)
      : ch_(channel),
        h_(std::move(handlers)),
        buffer_(channel.rx().max_payload()),
        events_buffer_(channel.events().max_payload()) {}
  void set_platform(domain::Platform* p) { platform_ = p; }
  // Received frames go straight here (the host side of the network device) when set, else to the platform.
  void set_frame_receiver(domain::FrameReceiver* r) { receiver_ = r; }
  // Where what crosses is counted (crossing_counters.h); none by default.
  void set_counters(CrossingCounters* c) { counters_ = c; }
  // Names the domain in front of each of its log lines ("e1000 dom 1234"): built by the supervisor, never by it.
  void set_log_label(const std::string& label) { log_.set_label(label); }
  // A spare domain's log is kept until it takes over (domain_log.h).
  void hold_log() { log_.hold(); }
  void release_log() { log_.release(); }

  // Processes what is pending; true if anything was. A broken ring is reported once and then ignored.
  bool drain();
  bool broken() const { return broken_reported_; }

 private:
  // Takes at most `limit` messages of the event ring; true if there were any.
  bool drain_events(int limit);
  // Every vCPU's device requests, in the order the domain issued them (see the definition).
  bool drain_devices();
  // The vCPU whose oldest pending device request was issued first, or -1 when none is pending.
  int next_device_ring();
  bool drain_rx();
  // Each message is decoded (ipc/codec.h) before any field of it is used; one that does not decode is a fault.
  void handle_event(const side_msg& m, std::span<const uint8_t> payload);
  void on(const ipc::Decoded<ipc::ControlReply>& m);
  void on(const ipc::Decoded<ipc::Ready>& m);
  void on(const ipc::Decoded<ipc::Log>& m);
  void on(const ipc::Decoded<ipc::Fault>& m);
  void on(const ipc::Decoded<ipc::NetdevRegister>& m);
  void on(const ipc::Decoded<ipc::NetdevChanged>& m);
  void on(const ipc::Decoded<ipc::NetdevUnregister>& m);
  void on(const ipc::Decoded<ipc::Carrier>& m);
  void on(const ipc::Decoded<ipc::TxWake>& m);
  void on(const ipc::Decoded<ipc::BlockDone>& m);
  void on(const ipc::Decoded<ipc::DmaMapPosted>& m) { posted_dma(true, m.args); }
  void on(const ipc::Decoded<ipc::DmaUnmapPosted>& m) { posted_dma(false, m.args); }
  void posted_dma(bool map, const ipc::DmaArgs& a);
  void handle_device(unsigned cpu, const side_msg& m);
  // A device request's answer: nullopt for a posted one.
  std::optional<ipc::DeviceReply::Args> serve_device(const side_msg& m);
  void fault(int kind, std::string message, std::string location = "");

  ipc::Channel& ch_;
  Handlers h_;
  domain::Platform* platform_ = nullptr;
  domain::FrameReceiver* receiver_ = nullptr;
  std::vector<uint8_t> buffer_;         // received frames: as large as the receive ring's largest message
  std::vector<uint8_t> events_buffer_;  // event payloads
  bool broken_reported_ = false;
  DomainLog log_;
  CrossingCounters* counters_ = nullptr;
  void count(std::atomic<uint64_t> CrossingCounters::*which, uint64_t n = 1) {
    if (counters_ && n) CrossingCounters::bump(counters_->*which, n);
  }
};

}  // namespace side::supervisor
