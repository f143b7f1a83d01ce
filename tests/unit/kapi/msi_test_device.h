// A small PCI function for the kernel-API layer's MSI tests: MSI (64-bit, one vector, at 0x50) and MSI-X (4
// vectors, table at BAR0 + 0x800) as PCI specifies them, with nothing else. Writing N to its doorbell (BAR0 + 0)
// raises vector N as the function's mode says: the message the kernel programmed for it (MSI-X: held pending while
// the entry or the function is masked, sent when unmasked), or an INTx edge for vector 0 while messages are off.
#pragma once

#include <array>
#include <cstring>
#include <memory>
#include <mutex>

#include "devices/device_models.h"
#include "devices/pci/message_interrupts.h"
#include "devices/pci/pci_device.h"

namespace side::testing {

class MsiTestDevice final : public pci::PciDevice {
 public:
  static constexpr uint16_t kVendor = 0x5344, kDevice = 0x4d53;
  static constexpr uint32_t kTable = 0x800, kVectors = 4;

  MsiTestDevice() : PciDevice(pci::Identity{kVendor, kDevice, kVendor, 1, 1, 0x028000, 1}, bars()) {
    const uint8_t msix[10] = {kVectors - 1, 0, kTable & 0xff, kTable >> 8, 0, 0, 0x00, 0x0c, 0, 0};
    const uint8_t msix_w[10] = {0, 0xc0};
    (void)config_.add_capability(0x40, 0x11, msix, msix_w);
    const uint8_t msi[12] = {0x80, 0};  // 64-bit, one vector
    const uint8_t msi_w[12] = {0x71, 0, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    (void)config_.add_capability(0x50, 0x05, msi, msi_w);
    std::array<uint64_t, pci::kNumBars> sizes{4096};
    (void)messages_.discover([this](uint32_t off, unsigned w) -> Result<uint32_t> { return config_.read(off, w); },
                             sizes);
    reset_table();
  }

  static devices::DeviceModel model() {
    devices::DeviceModel m;
    m.name = "msi-test";
    m.description = "MSI/MSI-X test function";
    m.identity = pci::Identity{kVendor, kDevice, kVendor, 1, 1, 0x028000, 1};
    m.make = [](const pci::DeviceContext&, const devices::DeviceOptions&) -> std::unique_ptr<pci::PciDevice> {
      return std::make_unique<MsiTestDevice>();
    };
    return m;
  }

  void config_write(uint32_t offset, unsigned width, uint32_t value) override {
    std::lock_guard lock(mu_);
    PciDevice::config_write(offset, width, value);
    messages_.config_written(offset, width, value);
    deliver_pending();
  }
  uint64_t bar_read(int bar, uint64_t offset, unsigned width) override {
    std::lock_guard lock(mu_);
    uint64_t v = 0;
    if (bar == 0 && offset >= kTable && offset + width <= kTable + sizeof table_)
      std::memcpy(&v, table_.data() + (offset - kTable), width);
    return v;
  }
  void bar_write(int bar, uint64_t offset, unsigned width, uint64_t value) override {
    std::lock_guard lock(mu_);
    if (bar != 0) return;
    if (offset == 0) return ring(static_cast<uint32_t>(value));
    if (offset < kTable || offset + width > kTable + sizeof table_) return;
    std::memcpy(table_.data() + (offset - kTable), &value, width);
    messages_.bar_written(0, offset, width, value);
    deliver_pending();
  }
  void reset() override {
    std::lock_guard lock(mu_);
    reset_config();
    messages_.reset();
    reset_table();
  }

 private:
  static std::array<pci::BarSpec, pci::kNumBars> bars() {
    std::array<pci::BarSpec, pci::kNumBars> b{};
    b[0].kind = pci::BarKind::kMemory32;
    b[0].size = 4096;
    return b;
  }
  void reset_table() {
    table_.fill(0);
    for (uint32_t v = 0; v < kVectors; ++v) table_[16 * v + 12] = 1;  // masked
    pending_.fill(false);
  }
  bool masked(uint32_t v) const { return (config_.read(0x42, 2) & 0x4000) || (table_[16 * v + 12] & 1); }
  void ring(uint32_t v) {
    using Mode = pci::MessageInterrupts::Mode;
    if (v >= kVectors) return;
    if (messages_.mode() == Mode::kIntx) {
      if (v == 0) {
        set_irq_request(true);
        set_irq_request(false);
      }
      return;
    }
    if (messages_.mode() == Mode::kMsix && masked(v)) {
      pending_[v] = true;
      return;
    }
    if (auto data = messages_.message(v)) send_message(*data);
  }
  void deliver_pending() {
    if (messages_.mode() != pci::MessageInterrupts::Mode::kMsix) return;
    for (uint32_t v = 0; v < kVectors; ++v) {
      if (!pending_[v] || masked(v)) continue;
      pending_[v] = false;
      if (auto data = messages_.message(v)) send_message(*data);
    }
  }

  std::mutex mu_;
  pci::MessageInterrupts messages_;
  std::array<uint8_t, 16 * kVectors> table_{};
  std::array<bool, kVectors> pending_{};
};

}  // namespace side::testing
