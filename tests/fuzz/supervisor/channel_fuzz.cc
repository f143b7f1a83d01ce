// Fuzz target for the supervisor's end of a domain channel: arbitrary messages (and arbitrary ring indices) from a
// hostile domain, carried out on a real Machine with an emulated e1000 behind it. The input is a little program;
// each operation picks a ring, writes a message header and payload into it (or scribbles on its indices), and the
// server drains. Nothing may crash, hang or grow without bound.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "common/log.h"
#include "domain/layout.h"
#include "supervisor/channel_server.h"
#include "supervisor/machine.h"
#include "support/memory_domain.h"

namespace {

using namespace side;

struct Reader {
  const uint8_t* p;
  size_t n;
  bool done() const { return n == 0; }
  uint8_t u8() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{u8()} << (8 * i);
    return v;
  }
  void bytes(uint8_t* out, size_t len) {
    for (size_t i = 0; i < len; ++i) out[i] = u8();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = [] {
    set_log_sink([](LogLevel, std::string_view) {});
    return true;
  }();
  (void)quiet;
  static std::vector<uint8_t> memory(ipc::Channel::size_needed() + 64);
  void* base = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(memory.data()) + 63) & ~uintptr_t{63});
  auto channel = ipc::Channel::attach(base, ipc::Channel::size_needed(), true);
  if (!channel) __builtin_trap();

  side::testing::MemoryDomain domain;
  supervisor::Machine machine(domain);
  if (!machine.add_e1000({})) __builtin_trap();
  uint64_t faults = 0;
  supervisor::ChannelServer server(*channel, {[](uint16_t, uint64_t, int64_t, uint64_t, std::span<const uint8_t>) {},
                                              [&](int, std::string, std::string) { ++faults; }});
  server.set_platform(&machine);

  Reader in{data, size};
  std::vector<uint8_t> payload(4096);
  for (int op = 0; op < 512 && !in.done(); ++op) {
    uint8_t code = in.u8();
    ipc::Ring* ring = nullptr;
    switch (code % 6) {
      case 0:
        ring = &channel->events();
        break;
      case 1:
      case 2:
        ring = &channel->device(code % ipc::kChannelVcpus);
        break;
      case 3:
        ring = &channel->rx();
        break;
      case 4: {
        // Scribble on indices, as a hostile domain may.
        auto* word = reinterpret_cast<std::atomic<uint32_t>*>(
            reinterpret_cast<uint8_t*>(base) + ((in.u64() % (ipc::Channel::size_needed() - 4)) & ~size_t{3}));
        word->store(static_cast<uint32_t>(in.u64()));
        break;
      }
      default:
        server.drain();
        continue;
    }
    if (!ring) continue;
    side_msg m{};
    in.bytes(reinterpret_cast<uint8_t*>(&m), sizeof m);
    size_t len = in.u8() * 8u;
    len = std::min(len, static_cast<size_t>(ring->max_payload()));
    in.bytes(payload.data(), len);
    ring->push(m, std::span(payload.data(), len));
  }
  for (int i = 0; i < 8 && server.drain(); ++i) {
  }
  (void)faults;
  return 0;
}
