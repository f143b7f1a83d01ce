// Shared fixture: a 1 MiB arena mapped bidirectionally at kIova through the IOMMU, an 82540EM driven by a fake
// clock, an interrupt sink recording the line and a frame sink collecting transmitted frames.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "devices/e1000/e1000.h"
#include "devices/e1000/phy.h"
#include "devices/e1000/regs.h"
#include "devices/iommu/iommu.h"
#include "devices/net/net_util.h"

namespace side::e1000::test {
using namespace side::net;

inline constexpr uint64_t kIova = 0x40000000;
inline constexpr size_t kArenaSize = 1 << 20;
inline const std::array<uint8_t, 6> kMac = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

struct RecordingSink : pci::InterruptSink {
  bool level = false;
  int rises = 0;
  void set_irq_level(bool a) override {
    if (a && !level) ++rises;
    level = a;
  }
};

class E1000Test : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(mmu.map(kIova, 0, kArenaSize, iommu::Perm::kBidirectional));
    Config c;
    c.mac = kMac;
    c.now_ns = [this] { return clock_ns; };
    dev = std::make_unique<E1000>(mmu, c);
    dev->set_interrupt_sink(&irq);
    dev->set_frame_sink([this](std::span<const uint8_t> f) { sent.emplace_back(f.begin(), f.end()); });
  }

  uint32_t rd(uint32_t off) { return static_cast<uint32_t>(dev->bar_read(0, off, 4)); }
  void wr(uint32_t off, uint32_t v) { dev->bar_write(0, off, 4, v); }
  uint8_t* mem(uint64_t iova) { return arena.data() + (iova - kIova); }

  // TX ring of `n` descriptors at ring_iova (n*16 must be a multiple of 128 for TDLEN).
  void setup_tx(uint64_t ring_iova, uint32_t n) {
    wr(TDBAL, static_cast<uint32_t>(ring_iova));
    wr(TDBAH, static_cast<uint32_t>(ring_iova >> 32));
    wr(TDLEN, n * 16);
    wr(TDH, 0);
    wr(TDT, 0);
    wr(TCTL, TCTL_EN | TCTL_PSP);
  }
  void put_tx_legacy(uint64_t ring_iova, uint32_t idx, uint64_t buf, uint16_t len, uint8_t cmd) {
    uint8_t* d = mem(ring_iova + idx * 16);
    std::memset(d, 0, 16);
    store_le64(d, buf);
    store_le16(d + 8, len);
    d[11] = cmd;
  }
  void put_tx_context(uint64_t ring_iova, uint32_t idx, uint8_t ipcss, uint8_t ipcso, uint16_t ipcse, uint8_t tucss,
                      uint8_t tucso, uint16_t tucse, uint32_t paylen, uint8_t tucmd, uint8_t hdr_len, uint16_t mss) {
    uint8_t* d = mem(ring_iova + idx * 16);
    std::memset(d, 0, 16);
    d[0] = ipcss;
    d[1] = ipcso;
    store_le16(d + 2, ipcse);
    d[4] = tucss;
    d[5] = tucso;
    store_le16(d + 6, tucse);
    store_le32(d + 8, (paylen & 0xfffff) | (DTYP_CONTEXT << 20) | (static_cast<uint32_t>(tucmd | TXD_CMD_DEXT) << 24));
    d[13] = hdr_len;
    store_le16(d + 14, mss);
  }
  void put_tx_data(uint64_t ring_iova, uint32_t idx, uint64_t buf, uint32_t len, uint8_t dcmd, uint8_t popts) {
    uint8_t* d = mem(ring_iova + idx * 16);
    std::memset(d, 0, 16);
    store_le64(d, buf);
    store_le32(d + 8, (len & 0xfffff) | (DTYP_DATA << 20) | (static_cast<uint32_t>(dcmd | TXD_CMD_DEXT) << 24));
    d[13] = popts;
  }

  // RX ring of n descriptors with buffers of bufsize starting at buf_iova; RDT = n-1 (all but one available).
  void setup_rx(uint64_t ring_iova, uint32_t n, uint64_t buf_iova, uint32_t bufsize, uint32_t rctl_extra = 0) {
    for (uint32_t i = 0; i < n; ++i) {
      uint8_t* d = mem(ring_iova + i * 16);
      std::memset(d, 0, 16);
      store_le64(d, buf_iova + uint64_t{i} * bufsize);
    }
    wr(RDBAL, static_cast<uint32_t>(ring_iova));
    wr(RDBAH, 0);
    wr(RDLEN, n * 16);
    wr(RDH, 0);
    wr(RDT, n - 1);
    wr(RCTL, RCTL_EN | RCTL_BAM | rctl_extra);
  }

  static std::vector<uint8_t> frame_to(std::array<uint8_t, 6> dst, size_t len, uint8_t fill = 0x5a) {
    std::vector<uint8_t> f(std::max<size_t>(len, 14), fill);
    std::copy(dst.begin(), dst.end(), f.begin());
    const uint8_t src[6] = {0x02, 0, 0, 0, 0, 1};
    std::copy(src, src + 6, f.begin() + 6);
    f[12] = 0x08;
    f[13] = 0x00;
    for (size_t i = 14; i < len; ++i) f[i] = static_cast<uint8_t>(i * 7 + fill);
    f.resize(len);  // runts for size tests
    return f;
  }

  std::vector<uint8_t> arena = std::vector<uint8_t>(kArenaSize, 0);
  iommu::Iommu mmu{arena.data(), arena.size()};
  uint64_t clock_ns = 1'000'000'000;
  RecordingSink irq;
  std::unique_ptr<E1000> dev;
  std::vector<std::vector<uint8_t>> sent;
};

}  // namespace side::e1000::test
