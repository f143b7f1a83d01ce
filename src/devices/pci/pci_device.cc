#include "devices/pci/pci_device.h"

namespace side::pci {

uint32_t PciDevice::config_read(uint32_t offset, unsigned width) {
  return config_.read(offset, width);
}

void PciDevice::config_write(uint32_t offset, unsigned width, uint32_t value) {
  config_.write(offset, width, value);
  // INTx Disable may have changed.
  update_line();
}

void PciDevice::set_irq_request(bool asserted) {
  request_ = asserted;
  config_.set_interrupt_status(asserted);
  update_line();
}

void PciDevice::reset_config() {
  config_.reset();
  request_ = false;
  update_line();
}

void PciDevice::update_line() {
  bool level = request_ && !(config_.command() & kCommandIntxDisable);
  if (level == line_) return;
  line_ = level;
  if (sink_) sink_->set_irq_level(level);
}

}  // namespace side::pci
