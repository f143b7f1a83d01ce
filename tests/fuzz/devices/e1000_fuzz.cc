// Fuzz target for the e1000 model, its PCI config space and the IOMMU underneath. The input is a little program:
// each operation is an opcode byte followed by its operands (missing bytes read as zero). The arena is mapped
// bidirectionally at IOVA 0 except for a read-only page and a hole, so descriptors the fuzzer writes into the
// arena are reachable and faults are exercised too.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "devices/e1000/e1000.h"
#include "devices/iommu/iommu.h"

namespace {

using side::e1000::E1000;

constexpr size_t kArena = 64 * 1024;

struct Reader {
  const uint8_t* p;
  size_t n;
  bool done() const { return n == 0; }
  uint8_t u8() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(u8() | (u8() << 8)); }
  uint32_t u32() { return u16() | (static_cast<uint32_t>(u16()) << 16); }
};

struct Sink : side::pci::InterruptSink {
  void set_irq_level(bool) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = [] {
    side::set_log_sink([](side::LogLevel, std::string_view) {});
    return true;
  }();
  (void)quiet;
  std::vector<uint8_t> arena(kArena, 0);
  side::iommu::Iommu mmu(arena.data(), arena.size(), 8);
  (void)mmu.map(0, 0, 0x8000, side::iommu::Perm::kBidirectional);
  (void)mmu.map(0x8000, 0x8000, 0x1000, side::iommu::Perm::kDeviceRead);
  (void)mmu.map(0xa000, 0xa000, kArena - 0xa000, side::iommu::Perm::kBidirectional);
  uint64_t clock = 0;
  side::e1000::Config cfg;
  cfg.now_ns = [&clock] { return clock; };
  E1000 dev(mmu, cfg);
  Sink sink;
  dev.set_interrupt_sink(&sink);
  size_t sent = 0;
  dev.set_frame_sink([&sent](std::span<const uint8_t> f) { sent += f.size(); });

  static const unsigned kWidths[4] = {1, 2, 4, 8};
  Reader in{data, size};
  for (int ops = 0; !in.done() && ops < 4096; ++ops) {
    switch (in.u8() % 12) {
      case 0: {  // MMIO write, biased towards real registers
        uint32_t off = in.u16() & 0x7ffc;
        if (in.u8() & 1) off |= 0x8000;
        dev.bar_write(0, off, kWidths[in.u8() & 3], in.u32());
        break;
      }
      case 1: {
        uint32_t off = in.u16() & 0x7fff;
        (void)dev.bar_read(0, off, kWidths[in.u8() & 3]);
        break;
      }
      case 2: {  // raw BAR access anywhere, any width
        int bar = in.u8() % 4;
        uint64_t off = in.u32();
        unsigned w = in.u8() % 10;
        if (in.u8() & 1) {
          dev.bar_write(bar, off, w, in.u32());
        } else {
          (void)dev.bar_read(bar, off, w);
        }
        break;
      }
      case 3: {
        uint32_t off = in.u16() % 300;
        unsigned w = in.u8() % 5;
        if (in.u8() & 1) {
          dev.config_write(off, w, in.u32());
        } else {
          (void)dev.config_read(off, w);
        }
        break;
      }
      case 4: {  // I/O window
        uint32_t reg = in.u16() & 0x7ffc;
        dev.bar_write(1, 0, 4, reg);
        if (in.u8() & 1) {
          dev.bar_write(1, 4, 4, in.u32());
        } else {
          (void)dev.bar_read(1, 4, 4);
        }
        break;
      }
      case 5: {  // poke the arena (descriptors, buffers)
        uint32_t off = in.u16() % kArena;
        uint32_t len = in.u8() % 32;
        for (uint32_t i = 0; i < len && off + i < kArena; ++i) arena[off + i] = in.u8();
        break;
      }
      case 6: {  // inject a frame
        size_t len = in.u16() % 10000;
        std::vector<uint8_t> f(len);
        for (size_t i = 0; i < len; ++i) f[i] = in.done() ? static_cast<uint8_t>(i) : in.u8();
        if (f.size() >= 6 && (len & 1)) {  // often addressed to us
          const uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};
          std::memcpy(f.data(), mac, 6);
        }
        (void)dev.receive(f);
        break;
      }
      case 7:
        clock += in.u32();
        dev.service_timers();
        break;
      case 8:
        dev.set_link(in.u8() & 1);
        break;
      case 9:
        if (in.u8() % 8 == 0) dev.reset();
        break;
      case 10: {  // IOMMU churn under the device
        uint64_t iova = (in.u8() % 24) * side::iommu::kPageSize;
        uint64_t len = (in.u8() % 4) * side::iommu::kPageSize;
        if (in.u8() & 1) {
          (void)mmu.map(iova, iova % kArena, len, static_cast<side::iommu::Perm>(in.u8() % 4));
        } else {
          (void)mmu.unmap(iova, len);
        }
        break;
      }
      case 11: {  // a typical ring setup shortcut so deeper TX/RX paths are reached quickly
        uint32_t base = (in.u8() % 8) * 0x1000;
        dev.bar_write(0, side::e1000::TDBAL, 4, base);
        dev.bar_write(0, side::e1000::TDLEN, 4, 128u * (1 + in.u8() % 4));
        dev.bar_write(0, side::e1000::RDBAL, 4, base + 0x800);
        dev.bar_write(0, side::e1000::RDLEN, 4, 128);
        dev.bar_write(0, side::e1000::RCTL, 4, side::e1000::RCTL_EN | side::e1000::RCTL_BAM | (in.u8() << 16));
        dev.bar_write(0, side::e1000::TCTL, 4, side::e1000::TCTL_EN);
        dev.bar_write(0, side::e1000::RDT, 4, in.u8() % 8);
        break;
      }
    }
  }
  // Invariants that must hold whatever the driver did.
  auto c = dev.counters();
  if (c.tx_bytes < sent) __builtin_trap();
  return 0;
}
