#include "devices/pci/message_interrupts.h"

#include <algorithm>
#include <string>

namespace side::pci {
namespace {

constexpr uint8_t kCapIdMsi = 0x05;
constexpr uint8_t kCapIdMsix = 0x11;
constexpr uint32_t kFirstCapOffset = 0x40;
// A list that does not loop has at most this many entries in the 192 bytes past the header.
constexpr int kMaxCapabilities = (kConfigSpaceSize - kFirstCapOffset) / 4;

constexpr uint16_t kMsiEnable = 1u << 0;
constexpr uint16_t kMsi64Bit = 1u << 7;
constexpr uint16_t kMsiMaskable = 1u << 8;
constexpr uint16_t kMsixEnable = 1u << 15;
constexpr uint16_t kMsixFunctionMask = 1u << 14;
constexpr uint32_t kMsixEntrySize = 16;
constexpr uint32_t kMsixEntryData = 8;

// Byte `i` of `word` replaced by `b`.
template <class T>
T with_byte(T word, unsigned i, uint8_t b) {
  const T mask = static_cast<T>(T{0xff} << (8 * i));
  return static_cast<T>((word & ~mask) | (T{b} << (8 * i)));
}

}  // namespace

Status MessageInterrupts::discover(const ConfigRead& read, const std::array<uint64_t, kNumBars>& bar_sizes) {
  *this = MessageInterrupts{};
  auto status = read(kStatus, 2);
  if (!status) return status.error();
  if (!(*status & kStatusCapList)) return {};
  auto ptr = read(kCapabilitiesPointer, 1);
  if (!ptr) return ptr.error();
  uint32_t at = *ptr & 0xfc;
  for (int hops = 0; at; ++hops) {
    if (hops >= kMaxCapabilities) return make_error("the capability list loops");
    if (at < kFirstCapOffset) return make_error("a capability at " + std::to_string(at) + ", inside the header");
    auto head = read(at, 2);
    if (!head) return head.error();
    const uint8_t id = static_cast<uint8_t>(*head);
    if (id == kCapIdMsi && !msi_cap_) SIDE_TRY(discover_msi(read, static_cast<uint8_t>(at)));
    if (id == kCapIdMsix && !msix_cap_) SIDE_TRY(discover_msix(read, static_cast<uint8_t>(at), bar_sizes));
    at = (*head >> 8) & 0xfc;
  }
  return {};
}

Status MessageInterrupts::discover_msi(const ConfigRead& read, uint8_t cap) {
  auto ctrl = read(cap + 2u, 2);
  if (!ctrl) return ctrl.error();
  const bool wide = *ctrl & kMsi64Bit;
  const uint32_t size = (wide ? 0x0e : 0x0a) + ((*ctrl & kMsiMaskable) ? 0x0a : 0);
  if (cap + size > kConfigSpaceSize) return make_error("the MSI capability runs past config space");
  const uint32_t mmc = (*ctrl >> 1) & 7;
  if (mmc > 5) return make_error("MSI capable of a reserved vector count (" + std::to_string(mmc) + ")");
  msi_cap_ = cap;
  msi_data_off_ = wide ? 0x0c : 0x08;
  msi_vectors_ = 1u << mmc;
  return {};
}

Status MessageInterrupts::discover_msix(const ConfigRead& read, uint8_t cap,
                                        const std::array<uint64_t, kNumBars>& bar_sizes) {
  if (cap + 12u > kConfigSpaceSize) return make_error("the MSI-X capability runs past config space");
  auto ctrl = read(cap + 2u, 2);
  auto table = read(cap + 4u, 4);
  if (!ctrl) return ctrl.error();
  if (!table) return table.error();
  const uint32_t entries = (*ctrl & 0x7ff) + 1;
  const uint32_t bir = *table & 7, offset = *table & ~7u;
  if (bir >= kNumBars || bar_sizes[bir] == 0) return make_error("MSI-X table in BAR " + std::to_string(bir));
  if (uint64_t{offset} + uint64_t{entries} * kMsixEntrySize > bar_sizes[bir])
    return make_error("MSI-X table of " + std::to_string(entries) + " entries runs past BAR " + std::to_string(bir));
  msix_cap_ = cap;
  msix_bar_ = static_cast<int>(bir);
  msix_table_ = offset;
  msix_table_size_ = entries;
  msix_vectors_ = std::min(entries, kMaxVectors);
  return {};
}

void MessageInterrupts::config_written(uint32_t offset, unsigned width, uint32_t value) {
  for (unsigned i = 0; i < width && i < 4; ++i) {
    const uint32_t at = offset + i;
    const uint8_t b = static_cast<uint8_t>(value >> (8 * i));
    if (msi_cap_ && at - (msi_cap_ + 2u) < 2) msi_ctrl_ = with_byte(msi_ctrl_, at - (msi_cap_ + 2u), b);
    if (msi_cap_ && at - (msi_cap_ + msi_data_off_) < 2)
      msi_data_ = with_byte(msi_data_, at - (msi_cap_ + msi_data_off_), b);
    if (msix_cap_ && at - (msix_cap_ + 2u) < 2) msix_ctrl_ = with_byte(msix_ctrl_, at - (msix_cap_ + 2u), b);
  }
}

void MessageInterrupts::bar_written(int bar, uint64_t offset, unsigned width, uint64_t value) {
  if (!msix_cap_ || bar != msix_bar_) return;
  const uint64_t end = uint64_t{msix_table_} + uint64_t{msix_vectors_} * kMsixEntrySize;
  for (unsigned i = 0; i < width && i < 8; ++i) {
    const uint64_t at = offset + i;
    if (at < msix_table_ || at >= end) continue;
    const uint64_t rel = at - msix_table_;
    const uint32_t field = static_cast<uint32_t>(rel % kMsixEntrySize);
    if (field < kMsixEntryData || field >= kMsixEntryData + 4) continue;
    uint32_t& data = msix_data_[rel / kMsixEntrySize];
    data = with_byte(data, field - kMsixEntryData, static_cast<uint8_t>(value >> (8 * i)));
  }
}

void MessageInterrupts::reset() {
  msi_ctrl_ = msi_data_ = msix_ctrl_ = 0;
  msix_data_ = {};
}

MessageInterrupts::Mode MessageInterrupts::mode() const {
  if (msix_cap_ && (msix_ctrl_ & kMsixEnable)) return Mode::kMsix;
  if (msi_cap_ && (msi_ctrl_ & kMsiEnable)) return Mode::kMsi;
  return Mode::kIntx;
}

std::optional<uint32_t> MessageInterrupts::message(uint32_t vector) const {
  switch (mode()) {
    case Mode::kMsix:
      if ((msix_ctrl_ & kMsixFunctionMask) || vector >= msix_vectors_) return std::nullopt;
      return msix_data_[vector];
    case Mode::kMsi: {
      // Multiple Message Enable: a block of 2^mme vectors whose number replaces the data's low bits.
      const uint32_t block = 1u << std::min<uint32_t>((msi_ctrl_ >> 4) & 7, 5);
      if (vector >= block || vector >= msi_vectors_) return std::nullopt;
      return (msi_data_ & ~(block - 1)) | vector;
    }
    case Mode::kIntx:
      break;
  }
  return std::nullopt;
}

}  // namespace side::pci
