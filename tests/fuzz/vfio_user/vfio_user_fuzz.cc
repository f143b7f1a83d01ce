// Fuzz target for the vfio-user client's codec and connection. The first byte picks the mode:
//   0..9  one decoder of the codec (codec.h) on the rest, with the request's fields taken from the input: it must
//         refuse or accept without reading or writing outside its spans, and what it accepts must be in range;
//   10    check_set_irqs on fields from the input: what it lets out is inside the server's vectors;
//   11    pci::MessageInterrupts: a config space from the input (a server's, or a hostile domain's writes) walked for
//         MSI / MSI-X, then config and BAR writes from the input; every message stays inside its bounds;
//   else  the rest is everything a server sends on a connection (then it closes): the client negotiates and makes a
//         few accesses. Nothing may crash, hang or allocate beyond the protocol's bounds.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "devices/pci/message_interrupts.h"
#include "devices/vfio_user/client.h"
#include "devices/vfio_user/codec.h"
#include "fuzz_input.h"

namespace {

using namespace side::vfio_user;

void check(bool ok) {
  if (!ok) std::abort();
}

void decode_one(uint8_t mode, side::fuzz::Input in) {
  const uint32_t a = in.u32();
  const uint64_t b = in.u64();
  std::span<const uint8_t> body(in.p, in.n);
  switch (mode) {
    case 0: {
      auto v = decode_version(body, a);
      if (v) check(v->major == 0 && v->minor <= 1 && v->max_data_xfer <= std::max(a, kDefaultMaxDataXfer));
      break;
    }
    case 1: {
      auto d = decode_device_info(body);
      if (d) check(d->num_regions >= kMinPciRegions && d->num_regions <= kMaxRegions && d->num_irqs <= kMaxIrqTypes);
      break;
    }
    case 2: {
      auto r = decode_region_info(body, a);
      if (r) check(r->index == a && r->size < (uint64_t{1} << 40));
      break;
    }
    case 3: {
      auto i = decode_irq_info(body, a);
      if (i) check(i->index == a && i->count <= kMaxIrqCount);
      if (i && (a == kIrqIntx || a == kIrqErr || a == kIrqReq)) check(i->count <= 1);
      if (i && a == kIrqMsi) check(i->count <= 32);
      break;
    }
    case 4: {
      uint8_t out[8];
      (void)decode_region_read(body, a, b, std::span<uint8_t>(out, 1 + (a & 7)));
      break;
    }
    case 5:
      (void)decode_region_write(body, a, b, a >> 8);
      break;
    case 6:
      (void)decode_dma_unmap(body, b, a);
      break;
    case 7:
      (void)decode_empty(body, Command::kDeviceReset);
      break;
    case 8: {
      auto h = decode_header(body.first(std::min<size_t>(body.size(), kHeaderSize)));
      if (h) check(h->size >= kHeaderSize && h->size <= kMaxMessageSize);
      break;
    }
    default: {
      if (auto h = decode_header(body.first(std::min<size_t>(body.size(), kHeaderSize))))
        (void)check_reply(*h, static_cast<uint16_t>(a), Command::kRegionRead, static_cast<uint32_t>(b));
    }
  }
}

void set_irqs_one(side::fuzz::Input in) {
  const IrqInfo info{in.u32() & 7, in.u32() & 0xf, in.u32() & 0xfff};
  const uint32_t flags = in.u32(), start = in.u32(), count = in.u32();
  const size_t nfds = in.u32() & 0xff;
  if (!check_set_irqs(info, flags, start, count, nfds)) return;
  check(count == 0 ? start == 0 && nfds == 0 : start < info.count && count <= info.count - start);
  check(nfds == 0 || nfds == count);
}

void messages_one(side::fuzz::Input in) {
  std::array<uint8_t, 256> config{};
  for (auto& b : config) b = in.u8();
  std::array<uint64_t, side::pci::kNumBars> bars{};
  for (auto& s : bars) s = uint64_t{1} << (in.u8() % 31);
  side::pci::MessageInterrupts m;
  auto read = [&](uint32_t off, unsigned w) -> side::Result<uint32_t> {
    if (off > config.size() || w > config.size() - off) return side::make_error("outside config space");
    uint32_t v = 0;
    for (unsigned i = 0; i < w; ++i) v |= uint32_t{config[off + i]} << (8 * i);
    return v;
  };
  if (!m.discover(read, bars)) return;
  check(m.msix_vectors() <= side::pci::MessageInterrupts::kMaxVectors && m.msi_vectors() <= 32);
  for (int i = 0; i < 64 && in.n >= 8; ++i) {
    const uint8_t op = in.u8();
    if (op & 1)
      m.config_written(in.u8(), 1u << (op >> 1 & 3), in.u32());
    else
      m.bar_written(op >> 1 & 7, in.u32() & 0xffff, 1u << (op >> 4 & 3), in.u64());
    for (uint32_t v = 0; v < 40; ++v) (void)m.message(v);
  }
}

// The input is the server's side of the conversation: written in full, then the server hangs up.
void converse(std::span<const uint8_t> stream) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return;
  size_t off = 0;
  while (off < stream.size()) {
    ssize_t w = write(sv[1], stream.data() + off, stream.size() - off);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  close(sv[1]);
  Client client(side::Fd(sv[0]), std::chrono::milliseconds(50));
  if (!client.negotiate()) {
    check(client.connection().broken());  // the stream ended or was refused: the connection says so for good
    return;
  }
  (void)client.read(kRegionConfig, 0, 4);
  (void)client.write(kRegionConfig, 4, 2, 7, false);
  (void)client.read(kRegionBar0, 0, 8);
  const int fds[3] = {sv[0], sv[0], sv[0]};  // any descriptors will do: the server side is the input
  (void)client.set_irq_eventfds(kIrqMsix, 0, fds);
  (void)client.mask_irqs(kIrqMsix, 1, 2, true);
  (void)client.disable_irqs(kIrqMsix);
  (void)client.reset();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  if (mode < 10) {
    decode_one(mode, side::fuzz::Input{data + 1, size - 1});
  } else if (mode == 10) {
    set_irqs_one(side::fuzz::Input{data + 1, size - 1});
  } else if (mode == 11) {
    messages_one(side::fuzz::Input{data + 1, size - 1});
  } else {
    converse(std::span<const uint8_t>(data + 1, size - 1));
  }
  return 0;
}
