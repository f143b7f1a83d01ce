// Fuzz target for the supervisor's end of a domain channel: arbitrary messages (and arbitrary ring indices) from a
// hostile domain, carried out on a real Machine with an emulated e1000 behind it. The input is a little program;
// each operation picks a ring, writes a message header and payload into it (or scribbles on its indices), and the
// server drains. Nothing may crash, hang or grow without bound.
//
// Most messages carry a declared type (ipc/messages.h) with arbitrary arguments and payload, so that every
// declaration's decoder (ipc/codec.h) meets arbitrary bytes; the others carry any type at all. A further operation
// checks the codec itself: whatever decodes re-encodes to the same arguments and payload.
//
// The Machine (its timer thread, its e1000 and IOMMU) and the channel's memory live for the whole run; between
// inputs they are reset as recovery resets them (quiesce, rebind, network devices unregistered), the arena is
// cleared, and of the channel only what the input could have changed is cleared (header, ring indices, the slots
// and words the harness wrote), so every input starts from the same state without touching all 2.7 MB.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/log.h"
#include "domain/layout.h"
#include "fuzz_input.h"
#include "supervisor/channel_server.h"
#include "supervisor/machine.h"
#include "support/memory_domain.h"

namespace {

using namespace side;
using side::fuzz::Input;

// One of the declared message types, chosen by `pick`.
uint16_t declared_type(uint16_t pick) {
  static const std::vector<uint16_t> types = [] {
    std::vector<uint16_t> t;
    ipc::for_each_message(ipc::AllMessages{}, [&](auto m) { t.push_back(decltype(m)::kType); });
    return t;
  }();
  return types[pick % types.size()];
}

class Harness {
 public:
  Harness() : domain_(256 * 1024), machine_(domain_) {
    size_ = ipc::Channel::size_needed();
    memory_ = static_cast<uint8_t*>(std::aligned_alloc(4096, size_));
    if (!memory_ || !machine_.add_device(*side::devices::find_device_model("e1000"))) __builtin_trap();
    locate_rings();
  }

  // A fresh channel (zeroed rings, header as the supervisor writes it) over a reset machine.
  void reset() {
    machine_.quiesce();
    machine_.rebind(domain_.arena_base(), domain_.arena_size());
    for (const auto& n : machine_.netdevs()) machine_.netdev_unregister(n.info.token);
    std::memset(domain_.arena_base(), 0, domain_.arena_size());
    {
      std::lock_guard lock(domain_.mu);
      domain_.reported.clear();
      domain_.irqs.clear();
      domain_.attached.clear();
    }
    // Only what the last input could have written goes back to zero: the header, every ring's indices, and the
    // slots and words the harness wrote (the server writes slots only in rings it produces, which it never reads).
    for (const auto& [at, len] : dirty_) std::memset(memory_ + at, 0, len);
    dirty_.clear();
    std::memset(memory_, 0, sizeof(ipc::ChannelHeader));
    for (ipc::RingShared* r : rings_) r->head.store(0), r->tail.store(0);
    auto* h = reinterpret_cast<ipc::ChannelHeader*>(memory_);
    h->magic = SIDE_IPC_MAGIC;
    h->version = SIDE_IPC_VERSION;
    h->total_size = size_;
    auto attached = ipc::Channel::attach(memory_, size_, false);
    if (!attached) __builtin_trap();
    channel_ = *attached;
  }

  void run(Input& in);

 private:
  // Finds where each ring's shared part lies by sending one marked message through it (the layout stays private
  // to channel.cc), so reset() can clear exactly what an input touched instead of the whole 2.7 MB.
  void locate_rings() {
    auto created = ipc::Channel::attach(memory_, size_, true);
    if (!created) __builtin_trap();
    ipc::Channel& c = *created;
    std::vector<ipc::Ring*> all = {&c.control(), &c.events(), &c.tx(), &c.rx()};
    for (unsigned cpu = 0; cpu < ipc::kChannelVcpus; ++cpu) all.push_back(&c.device(cpu)), all.push_back(&c.reply(cpu));
    const size_t slots_offset = offsetof(ipc::RingShared, slots);
    for (ipc::Ring* ring : all) {
      side_msg marker{};
      marker.cookie = 0x5eed5eed00000000ull | rings_.size();
      if (!ring->push(marker)) __builtin_trap();
      uint8_t* found = nullptr;
      for (size_t at = sizeof(ipc::ChannelHeader); at + sizeof marker <= size_ && !found; at += 64) {
        if (std::memcmp(memory_ + at, &marker, sizeof marker) == 0) found = memory_ + at;
      }
      if (!found) __builtin_trap();
      rings_.push_back(reinterpret_cast<ipc::RingShared*>(found - slots_offset));
      std::memset(found, 0, sizeof marker);
    }
    std::memset(memory_, 0, size_);
  }
  // Rings the server consumes, by their index in rings_ (device rings: 4 + 2 * cpu).
  enum Consumed : unsigned { kEvents = 1, kRx = 3, kDevice = 4 };
  // A message from the domain into one of them, as its (hostile) producer.
  void push(Consumed which, unsigned cpu, Input& in);

  testing::MemoryDomain domain_;
  supervisor::Machine machine_;
  uint8_t* memory_ = nullptr;
  size_t size_ = 0;
  ipc::Channel channel_;
  std::vector<ipc::RingShared*> rings_;           // control, events, tx, rx, then device/reply per vCPU
  std::vector<std::pair<size_t, size_t>> dirty_;  // (offset, length) the harness wrote
  std::vector<uint8_t> payload_ = std::vector<uint8_t>(4096);
};

void Harness::push(Consumed which, unsigned cpu, Input& in) {
  ipc::Ring& ring = which == kEvents ? channel_.events() : which == kRx ? channel_.rx() : channel_.device(cpu);
  ipc::RingShared* shared = rings_[which == kDevice ? 4 + 2 * cpu : which];
  ipc::RingGeometry g = which == kEvents ? ipc::kEventRing : which == kRx ? ipc::kRxRing : ipc::kDeviceRing;
  side_msg m{};
  in.bytes(reinterpret_cast<uint8_t*>(&m), sizeof m);
  if (m.flags & 1) m.type = declared_type(m.type);
  size_t len = std::min<size_t>(in.u8() * 8u, ring.max_payload());
  in.bytes(payload_.data(), len);
  uint8_t* slot = shared->slots + size_t{shared->head.load() & (g.slots - 1)} * g.slot_size;
  if (ring.push(m, std::span(payload_.data(), len))) dirty_.emplace_back(slot - memory_, g.slot_size);
}

// Whatever the codec accepts from arbitrary bytes, it encodes again, to a message it accepts with the same payload:
// a message one end accepts is one the other end could have sent. (Arguments are compared through the codec, not
// byte for byte: the padding between them carries nothing.)
void check_codec(Input& in) {
  side_msg m{};
  in.bytes(reinterpret_cast<uint8_t*>(&m), sizeof m);
  m.type = declared_type(m.type);
  std::vector<uint8_t> payload(std::min<size_t>(in.u16(), 4096));
  in.bytes(payload.data(), payload.size());
  ipc::visit_message(ipc::AllMessages{}, m.type, [&](auto msg) {
    using M = decltype(msg);
    auto d = ipc::decode<M>(m, payload);
    if (!d) return;
    auto bytes = ipc::PayloadTraits<typename M::Payload>::bytes(d->payload);
    auto again = ipc::encode<M>(d->args, bytes, d->cookie);
    if (!again || again->type != m.type || again->cookie != m.cookie || !ipc::decode<M>(*again, bytes) ||
        bytes.size() != payload.size() || (!bytes.empty() && std::memcmp(bytes.data(), payload.data(), bytes.size()))) {
      __builtin_trap();
    }
  });
}

void Harness::run(Input& in) {
  uint64_t faults = 0;
  supervisor::ChannelServer server(channel_, {[](uint16_t, uint64_t, int64_t, std::span<const uint8_t>) {},
                                              [&](int, std::string, std::string) { ++faults; }});
  server.set_platform(&machine_);
  for (int op = 0; op < 512 && !in.done(); ++op) {
    uint8_t code = in.u8();
    switch (code % 7) {
      case 6:
        check_codec(in);
        break;
      case 0:
        push(kEvents, 0, in);
        break;
      case 1:
      case 2:
        push(kDevice, code % ipc::kChannelVcpus, in);
        break;
      case 3:
        push(kRx, 0, in);
        break;
      case 4: {  // scribble on any word, indices included, as a hostile domain may
        size_t at = (in.u64() % (size_ - 4)) & ~size_t{3};
        reinterpret_cast<std::atomic<uint32_t>*>(memory_ + at)->store(static_cast<uint32_t>(in.u64()));
        dirty_.emplace_back(at, 4);
        break;
      }
      default:
        server.drain();
    }
  }
  // Bounded: a hostile domain cannot keep the server busy forever.
  for (int i = 0; i < 8 && server.drain(); ++i) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness* harness = [] {
    set_log_sink([](LogLevel, std::string_view) {});
    return new Harness();
  }();
  harness->reset();
  Input in{data, size};
  harness->run(in);
  return 0;
}
