// The 82540EM's serial EEPROM: a 64-word microwire part (93C46 class), section 5 of the 8254x SDM. Software
// reads it either through EERD (one word per START) or by bit-banging EECD (SK clock, CS select, DI in, DO out),
// which is what Linux's e1000 does for the 82540 (e1000_read_eeprom_microwire).
//
// Microwire READ: with CS high, the host clocks in (rising SK edges) a start bit 1, opcode 10b and a 6-bit word
// address, MSB first; the part then shifts out the word MSB first, one bit per rising edge, continuing with the
// following words while CS stays high. Dropping CS ends the cycle. Only READ is implemented: EWEN/WRITE/ERASE
// cycles are recognised and ignored, so the image can never be altered by the driver.
#pragma once

#include <array>
#include <cstdint>

#include "devices/e1000/regs.h"

namespace side::e1000 {

struct EepromIds {
  std::array<uint8_t, 6> mac{};
  uint16_t device_id = kDevice82540EM;
  uint16_t vendor_id = kVendorIntel;
  uint16_t subsystem_id = kSubsystem82540EM;
  uint16_t subsystem_vendor_id = kVendorIntel;
};

class Eeprom {
 public:
  explicit Eeprom(const EepromIds& ids);

  uint16_t word(unsigned index) const { return index < kEepromWords ? words_[index] : 0xffff; }
  // For tests / deliberately bad images: change a word and optionally re-fix the checksum.
  void set_word(unsigned index, uint16_t value, bool fix_checksum = true);
  // Sum of all 64 words (0xBABA for a valid image).
  uint16_t sum() const;

  // Microwire pin interface. `eecd` is the value software wrote (only SK, CS, DI matter). Returns nothing; the DO
  // pin is read with data_out().
  void write_pins(uint32_t eecd);
  bool data_out() const;
  // Back to idle (CS low), e.g. on device reset.
  void reset_interface();

 private:
  void fix_checksum();

  std::array<uint16_t, kEepromWords> words_{};
  // Bit-bang state.
  bool cs_ = false;
  bool sk_ = false;
  unsigned bits_in_ = 0;   // bits shifted in since CS rose
  uint32_t shift_in_ = 0;  // collected command bits
  bool reading_ = false;
  unsigned start_word_ = 0;  // address given with READ
  unsigned out_pos_ = 0;     // rising edges since the address: 0 = dummy zero, k>0 = data bit k-1 of the stream
};

}  // namespace side::e1000
