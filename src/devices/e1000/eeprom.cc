#include "devices/e1000/eeprom.h"

namespace side::e1000 {
namespace {

constexpr unsigned kAddressBits = 6;  // 64 words, EECD.SIZE = 0
constexpr unsigned kCommandBits = 3 + kAddressBits;

}  // namespace

Eeprom::Eeprom(const EepromIds& ids) {
  // Layout per section 5.6 (table 5-2). Unused words are 0 except where the driver treats 0 specially.
  words_.fill(0);
  for (int i = 0; i < 3; ++i) words_[i] = static_cast<uint16_t>(ids.mac[2 * i] | (ids.mac[2 * i + 1] << 8));
  words_[0x04] = 0xffff;  // LED settings: "not programmed", the driver then uses its defaults
  words_[0x05] = 0x0000;  // EEPROM image version
  words_[0x08] = 0x3000;  // PBA number (printed by the driver)
  words_[0x09] = 0x1000;
  words_[0x0a] = 0x6403;  // Initialization Control 1: EEPROM signature 01b in bits 15:14 ...
  words_[0x0b] = ids.subsystem_id;
  words_[0x0c] = ids.subsystem_vendor_id;
  words_[0x0d] = ids.device_id;
  words_[0x0e] = ids.vendor_id;
  words_[0x0f] = 0x3040;  // Initialization Control 2: pause capabilities (symmetric + asymmetric)
  words_[0x24] = 0x0000;  // Initialization Control 3 (port A): no APM wake-up
  fix_checksum();
}

void Eeprom::set_word(unsigned index, uint16_t value, bool fix) {
  if (index >= kEepromWords) return;
  words_[index] = value;
  if (fix) fix_checksum();
}

uint16_t Eeprom::sum() const {
  uint16_t s = 0;
  for (uint16_t w : words_) s = static_cast<uint16_t>(s + w);
  return s;
}

void Eeprom::fix_checksum() {
  // Word 0x3F makes the 16-bit sum of words 0x00..0x3F equal 0xBABA (section 5.6.13).
  uint16_t s = 0;
  for (int i = 0; i < kEepromWords - 1; ++i) s = static_cast<uint16_t>(s + words_[i]);
  words_[kEepromWords - 1] = static_cast<uint16_t>(kEepromChecksumTarget - s);
}

void Eeprom::reset_interface() {
  cs_ = sk_ = false;
  bits_in_ = 0;
  shift_in_ = 0;
  reading_ = false;
  start_word_ = 0;
  out_pos_ = 0;
}

void Eeprom::write_pins(uint32_t eecd) {
  bool cs = eecd & EECD_CS, sk = eecd & EECD_SK, di = eecd & EECD_DI;
  if (!cs) {
    // Deselect ends any cycle. SK is still tracked so that selecting with SK already high is not an edge.
    reset_interface();
    sk_ = sk;
    return;
  }
  if (!cs_) {
    // Chip select rising edge: a fresh command starts.
    bits_in_ = 0;
    shift_in_ = 0;
    reading_ = false;
    out_pos_ = 0;
  }
  bool rising = sk && !sk_;
  cs_ = true;
  sk_ = sk;
  if (!rising) return;
  if (reading_) {
    // Each rising edge presents the next data bit; words continue sequentially, wrapping after the whole image
    // (1024 bits), which also keeps the counter bounded however long the driver keeps clocking.
    out_pos_ = out_pos_ >= kEepromWords * 16 ? 1 : out_pos_ + 1;
    return;
  }
  if (bits_in_ >= kCommandBits) return;  // a non-READ command: ignored until CS drops
  // Leading zeros before the start bit are ignored by the part.
  if (bits_in_ == 0 && !di) return;
  shift_in_ = (shift_in_ << 1) | (di ? 1 : 0);
  if (++bits_in_ == kCommandBits) {
    uint32_t opcode = (shift_in_ >> kAddressBits) & 0x7;
    if (opcode == kEepromReadOpcode) {
      reading_ = true;
      start_word_ = shift_in_ & ((1u << kAddressBits) - 1);
      out_pos_ = 0;  // the part drives a dummy 0 now; D15 appears on the next rising edge
    }
  }
}

bool Eeprom::data_out() const {
  if (!reading_ || out_pos_ == 0) return false;
  unsigned k = out_pos_ - 1;
  unsigned w = (start_word_ + k / 16) % kEepromWords;
  return (words_[w] >> (15 - k % 16)) & 1;
}

}  // namespace side::e1000
