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

// A domain that exists only as memory: the machine needs its arena and a place to send interrupts.
class MemoryDomain final : public supervisor::DriverDomain {
 public:
  MemoryDomain() : arena_(1 << 20) {}
  const char* isolation() const override { return "fuzz"; }
  int pid() const override { return 0; }
  uint8_t* arena_base() const override { return const_cast<uint8_t*>(arena_.data()); }
  uint64_t arena_size() const override { return arena_.size(); }
  void connect(domain::Platform*) override {}
  Status attach_device(const side_pci_device_info&) override { return {}; }
  Result<std::string> load(const domain::LoadRequest&) override { return make_error("none"); }
  Status unload(const std::string&) override { return make_error("none"); }
  Result<uint64_t> probe(uint32_t) override { return make_error("none"); }
  Status remove(uint64_t) override { return make_error("none"); }
  Status open(uint64_t) override { return make_error("none"); }
  Status close(uint64_t) override { return make_error("none"); }
  Result<side_netdev_stats> stats(uint64_t) override { return make_error("none"); }
  Status set_mtu(uint64_t, uint32_t) override { return make_error("none"); }
  Status set_mac(uint64_t, const std::array<uint8_t, 6>&) override { return make_error("none"); }
  Status set_rx_mode(uint64_t, uint32_t, const std::vector<std::array<uint8_t, 6>>&) override {
    return make_error("none");
  }
  Result<side_ethtool_info> ethtool(uint64_t) override { return make_error("none"); }
  Result<std::string> inject(int, uint64_t) override { return make_error("none"); }
  void report_fault(int, const std::string&) override { ++reported; }
  uint64_t reported = 0;
  void raise_irq(uint32_t) override { ++irqs; }
  bool submit_tx(uint64_t, std::span<const uint8_t>) override { return false; }
  bool faulty() const override { return false; }
  std::vector<domain::FaultReport> faults() const override { return {}; }
  std::optional<domain::Domain::IrqStats> irq_stats() const override { return std::nullopt; }
  void shutdown() override {}
  Status kill() override { return make_error("none"); }
  uint64_t irqs = 0;

 private:
  std::vector<uint8_t> arena_;
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

  MemoryDomain domain;
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
