// What the supervisor must know of a PCI function's message-signalled interrupts (MSI, MSI-X) to deliver them when
// the device itself cannot write a message into memory: a device served by another process (vfio-user) signals an
// eventfd per vector instead, and the supervisor turns vector i into the message the driver's kernel programmed for
// it, the way Linux VFIO's host kernel owns the MSI-X table on a guest's behalf.
//
// The capabilities' layout is read once from config space (the capability list walked with bounds: a list that
// loops, points outside the header or describes an MSI-X table outside its BAR is refused). Afterwards the owner
// reports every config write and BAR write the driver's domain made (they still reach the device: it emulates
// masking and pending bits); this class keeps the bytes that decide routing: MSI's control word and data, MSI-X's
// control word (enable, function mask) and each table entry's data. It never decides whether a line is valid: the
// machine checks a message's data against the domain's interrupt lines.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>

#include "common/result.h"
#include "devices/pci/config_space.h"

namespace side::pci {

class MessageInterrupts {
 public:
  // Vectors side routes per function (e1000e has 5, virtio-net 3 for one queue pair); a larger table is used up to
  // here.
  static constexpr uint32_t kMaxVectors = 32;
  enum class Mode { kIntx, kMsi, kMsix };

  using ConfigRead = std::function<Result<uint32_t>(uint32_t offset, unsigned width)>;
  // Walks the capability list through `read` (the device's config space); `bar_sizes` bounds the MSI-X table.
  Status discover(const ConfigRead& read, const std::array<uint64_t, kNumBars>& bar_sizes);

  // The driver's domain wrote config space / a BAR (already forwarded to the device).
  void config_written(uint32_t offset, unsigned width, uint32_t value);
  void bar_written(int bar, uint64_t offset, unsigned width, uint64_t value);
  // Power-on: MSI and MSI-X off, table data cleared (as the device's reset does).
  void reset();

  Mode mode() const;
  // The message data vector `vector` stands for now, or nullopt when it sends nothing (INTx mode, a vector past
  // the block or table, MSI-X function-masked: the device holds it pending itself).
  std::optional<uint32_t> message(uint32_t vector) const;

  bool has_msi() const { return msi_cap_ != 0; }
  bool has_msix() const { return msix_cap_ != 0; }
  uint32_t msi_vectors() const { return msi_vectors_; }    // Multiple Message Capable, 0 without MSI
  uint32_t msix_vectors() const { return msix_vectors_; }  // table size, capped at kMaxVectors; 0 without MSI-X
  int msix_bar() const { return msix_bar_; }
  uint32_t msix_table_offset() const { return msix_table_; }

 private:
  Status discover_msi(const ConfigRead& read, uint8_t cap);
  Status discover_msix(const ConfigRead& read, uint8_t cap, const std::array<uint64_t, kNumBars>& bar_sizes);

  uint8_t msi_cap_ = 0, msix_cap_ = 0;
  uint32_t msi_data_off_ = 0;  // offset of MSI's data register (0x08 or 0x0c past the capability)
  uint32_t msi_vectors_ = 0, msix_vectors_ = 0, msix_table_size_ = 0;
  int msix_bar_ = -1;
  uint32_t msix_table_ = 0;
  uint16_t msi_ctrl_ = 0, msi_data_ = 0, msix_ctrl_ = 0;
  std::array<uint32_t, kMaxVectors> msix_data_{};
};

}  // namespace side::pci
