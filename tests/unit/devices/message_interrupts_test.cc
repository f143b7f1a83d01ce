// pci::MessageInterrupts: the capability walk refuses lists and layouts a hostile server could present, and the
// routing state follows exactly the bytes the driver's kernel wrote (partial writes, the function mask, MSI blocks).
#include "devices/pci/message_interrupts.h"

#include <gtest/gtest.h>

#include <array>
#include <cstring>

namespace side::pci {
namespace {

struct Config {
  std::array<uint8_t, 256> bytes{};
  Config() {
    bytes[kStatus] = 0x10;  // capability list
  }
  void put(uint32_t off, unsigned n, uint32_t v) {
    for (unsigned i = 0; i < n; ++i) bytes[off + i] = static_cast<uint8_t>(v >> (8 * i));
  }
  MessageInterrupts::ConfigRead reader() const {
    return [this](uint32_t off, unsigned w) -> Result<uint32_t> {
      if (off + w > bytes.size()) return make_error("outside");
      uint32_t v = 0;
      for (unsigned i = 0; i < w; ++i) v |= uint32_t{bytes[off + i]} << (8 * i);
      return v;
    };
  }
};

constexpr std::array<uint64_t, kNumBars> kBars{0x20000, 0, 0, 0x4000, 0, 0};

// e1000e's layout in QEMU: MSI-X at 0xa0 (5 vectors, table at BAR3 + 0), MSI at 0xd0 (64-bit, one vector).
Config e1000e_like() {
  Config c;
  c.put(kCapabilitiesPointer, 1, 0xa0);
  c.put(0xa0, 4, 0x11 | 0xd0 << 8 | 4u << 16);
  c.put(0xa4, 4, 3);
  c.put(0xd0, 4, 0x05 | 0x80u << 16);
  return c;
}

TEST(MessageInterrupts, FindsBothCapabilities) {
  MessageInterrupts m;
  ASSERT_TRUE(m.discover(e1000e_like().reader(), kBars));
  EXPECT_TRUE(m.has_msi());
  EXPECT_TRUE(m.has_msix());
  EXPECT_EQ(m.msix_vectors(), 5u);
  EXPECT_EQ(m.msi_vectors(), 1u);
  EXPECT_EQ(m.msix_bar(), 3);
  EXPECT_EQ(m.mode(), MessageInterrupts::Mode::kIntx);
  EXPECT_FALSE(m.message(0));
}

TEST(MessageInterrupts, NoCapabilityListIsNoMessages) {
  Config c = e1000e_like();
  c.bytes[kStatus] = 0;
  MessageInterrupts m;
  ASSERT_TRUE(m.discover(c.reader(), kBars));
  EXPECT_FALSE(m.has_msi());
  EXPECT_FALSE(m.has_msix());
}

TEST(MessageInterrupts, HostileLayoutsAreRefused) {
  MessageInterrupts m;
  Config loop = e1000e_like();
  loop.put(0xd1, 1, 0xa0);  // MSI points back to MSI-X
  EXPECT_FALSE(m.discover(loop.reader(), kBars)) << "a loop";
  Config header = e1000e_like();
  header.put(0xd1, 1, 0x10);
  EXPECT_FALSE(m.discover(header.reader(), kBars)) << "a capability inside the header";
  Config big = e1000e_like();
  big.put(0xa2, 2, 0x7ff);  // 2048 entries of 16 bytes: 32 KiB in a 16 KiB BAR
  EXPECT_FALSE(m.discover(big.reader(), kBars)) << "a table past its BAR";
  Config nobar = e1000e_like();
  nobar.put(0xa4, 4, 1);
  EXPECT_FALSE(m.discover(nobar.reader(), kBars)) << "a table in a BAR the function does not have";
  Config bir = e1000e_like();
  bir.put(0xa4, 4, 7);
  EXPECT_FALSE(m.discover(bir.reader(), kBars)) << "BIR 7";
  Config mmc = e1000e_like();
  mmc.put(0xd2, 2, 0x80 | 6 << 1);
  EXPECT_FALSE(m.discover(mmc.reader(), kBars)) << "64 MSI vectors";
  Config edge = e1000e_like();
  edge.put(0xa1, 1, 0xfc);
  edge.put(0xfc, 4, 0x05 | 0x180u << 16);  // a 64-bit maskable MSI at 0xfc runs past 256
  EXPECT_FALSE(m.discover(edge.reader(), kBars)) << "past config space";
}

TEST(MessageInterrupts, MsixFollowsControlAndTableWrites) {
  MessageInterrupts m;
  ASSERT_TRUE(m.discover(e1000e_like().reader(), kBars));
  m.bar_written(3, 16 + 8, 4, 41);
  m.bar_written(3, 32, 8, 0xfee00000);            // address only
  m.bar_written(3, 32 + 8, 8, 0x1'0000'002aULL);  // data 42, then the control word
  m.bar_written(0, 48 + 8, 4, 99);                // another BAR: not the table
  m.bar_written(3, 5 * 16 + 8, 4, 77);            // past the table
  m.config_written(0xa2, 2, 0xc000);              // enable + function mask
  EXPECT_EQ(m.mode(), MessageInterrupts::Mode::kMsix);
  EXPECT_FALSE(m.message(1)) << "function-masked";
  m.config_written(0xa3, 1, 0x80);
  EXPECT_EQ(m.message(1), 41u);
  EXPECT_EQ(m.message(2), 42u);
  EXPECT_EQ(m.message(3), 0u) << "never programmed";
  EXPECT_FALSE(m.message(5)) << "past the table";
  m.bar_written(3, 16 + 9, 1, 0x01);  // one byte of entry 1's data
  EXPECT_EQ(m.message(1), 0x129u);
  m.reset();
  EXPECT_EQ(m.mode(), MessageInterrupts::Mode::kIntx);
  EXPECT_FALSE(m.message(1));
}

TEST(MessageInterrupts, MsiBlocksReplaceTheDataLowBits) {
  Config c;
  c.put(kCapabilitiesPointer, 1, 0x50);
  c.put(0x50, 4, 0x05 | (3u << 1) << 16);  // 32-bit, 8 vectors capable: data at 0x58
  MessageInterrupts m;
  ASSERT_TRUE(m.discover(c.reader(), kBars));
  EXPECT_EQ(m.msi_vectors(), 8u);
  m.config_written(0x58, 2, 40);
  m.config_written(0x52, 2, 1 | 2 << 4);  // enabled with 4 vectors
  EXPECT_EQ(m.mode(), MessageInterrupts::Mode::kMsi);
  EXPECT_EQ(m.message(0), 40u);
  EXPECT_EQ(m.message(3), 43u);
  EXPECT_FALSE(m.message(4)) << "past the enabled block";
  m.config_written(0x50, 4, 0);  // a dword write over the header clears the enable bit too
  EXPECT_EQ(m.mode(), MessageInterrupts::Mode::kIntx);
}

}  // namespace
}  // namespace side::pci
