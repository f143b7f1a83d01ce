// Fuzz target for the supervisor's end of a domain channel: arbitrary messages (and arbitrary ring indices) from a
// hostile domain, carried out on a real Machine with an emulated e1000 behind it. The input is a little program;
// each operation picks a ring, writes a message header and payload into it (or scribbles on its indices), and the
// server drains. Nothing may crash, hang or grow without bound.
//
// The Machine (its timer thread, its e1000 and IOMMU) and the channel's memory live for the whole run; between
// inputs they are reset as recovery resets them (quiesce, rebind, network devices unregistered), the arena is
// cleared and the channel's pages are dropped (MADV_DONTNEED: the kernel hands back zero pages, at the cost of the
// few pages an input touched), so every input starts from the same state.
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
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

class Harness {
 public:
  Harness() : domain_(256 * 1024), machine_(domain_) {
    size_ = ipc::Channel::size_needed();
    void* m = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || !machine_.add_e1000({})) __builtin_trap();
    memory_ = static_cast<uint8_t*>(m);
  }

  // A fresh channel (zeroed rings, header as the supervisor writes it) over a reset machine.
  ipc::Channel& reset() {
    machine_.quiesce();
    machine_.rebind();
    for (const auto& n : machine_.netdevs()) machine_.netdev_unregister(n.info.token);
    std::memset(domain_.arena_base(), 0, domain_.arena_size());
    {
      std::lock_guard lock(domain_.mu);
      domain_.reported.clear();
      domain_.irqs.clear();
      domain_.attached.clear();
    }
    if (madvise(memory_, size_, MADV_DONTNEED) != 0) __builtin_trap();
    auto* h = reinterpret_cast<ipc::ChannelHeader*>(memory_);
    h->magic = SIDE_IPC_MAGIC;
    h->version = SIDE_IPC_VERSION;
    h->total_size = size_;
    auto attached = ipc::Channel::attach(memory_, size_, false);
    if (!attached) __builtin_trap();
    channel_ = *attached;
    return channel_;
  }

  void run(Input& in);

 private:
  void push(ipc::Ring& ring, Input& in);

  testing::MemoryDomain domain_;
  supervisor::Machine machine_;
  uint8_t* memory_ = nullptr;
  size_t size_ = 0;
  ipc::Channel channel_;
  std::vector<uint8_t> payload_ = std::vector<uint8_t>(4096);
};

void Harness::push(ipc::Ring& ring, Input& in) {
  side_msg m{};
  in.bytes(reinterpret_cast<uint8_t*>(&m), sizeof m);
  size_t len = std::min<size_t>(in.u8() * 8u, ring.max_payload());
  in.bytes(payload_.data(), len);
  ring.push(m, std::span(payload_.data(), len));
}

void Harness::run(Input& in) {
  uint64_t faults = 0;
  supervisor::ChannelServer server(channel_, {[](uint16_t, uint64_t, int64_t, uint64_t, std::span<const uint8_t>) {},
                                              [&](int, std::string, std::string) { ++faults; }});
  server.set_platform(&machine_);
  for (int op = 0; op < 512 && !in.done(); ++op) {
    uint8_t code = in.u8();
    switch (code % 6) {
      case 0:
        push(channel_.events(), in);
        break;
      case 1:
      case 2:
        push(channel_.device(code % ipc::kChannelVcpus), in);
        break;
      case 3:
        push(channel_.rx(), in);
        break;
      case 4: {  // scribble on any word, indices included, as a hostile domain may
        size_t at = (in.u64() % (size_ - 4)) & ~size_t{3};
        reinterpret_cast<std::atomic<uint32_t>*>(memory_ + at)->store(static_cast<uint32_t>(in.u64()));
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
