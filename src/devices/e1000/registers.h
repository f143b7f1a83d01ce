// The declarative register table of the 82540EM model: every register the model implements, with its name,
// offset, reset value, writable mask and behaviour kind. The device dispatches MMIO on the kind; a register
// missing from this table is "unknown": reads return 0, writes are dropped, both are logged (rate-limited).
#pragma once

#include <cstdint>
#include <span>

namespace side::e1000 {

enum class RegKind : uint8_t {
  kPlain,      // read returns the stored value; write stores (value & writable)
  kReadOnly,   // read returns the stored value; writes ignored (logged)
  kWriteOnly,  // write handled by a side effect; reads return 0 (IMC)
  kStat,       // statistics counter: read returns and clears (13.7)
  kStatLow,    // low half of a 64-bit counter: read without clearing
  kStatHigh,   // high half of a 64-bit counter: read returns it and clears both halves
  kW1c,        // write-1-to-clear (WUS)
  kCtrl,       // CTRL: RST resets the device, PHY_RST resets the PHY
  kStatus,     // STATUS: link state computed; read-only
  kEecd,       // EEPROM microwire bit-bang interface
  kEerd,       // EEPROM read register: START performs a read
  kMdic,       // PHY access through MDI
  kIcr,        // read-to-clear, write-1-to-clear interrupt cause
  kIcs,        // interrupt cause set
  kIms,        // interrupt mask set (read returns the mask)
  kImc,        // interrupt mask clear
  kItr,        // interrupt throttling
  kRctl,       // RX control
  kTctl,       // TX control: enabling kicks TX
  kTdt,        // TX tail: kicks TX processing
  kRdt,        // RX tail
};

struct RegisterInfo {
  const char* name;
  uint32_t offset;
  uint16_t count;   // array registers (MTA, RA, VFTA ...): number of dwords covered with `stride`
  uint16_t stride;  // bytes between array elements (4 or 8)
  uint32_t reset;
  uint32_t writable;
  RegKind kind;
};

std::span<const RegisterInfo> register_table();
// The table entry covering `offset` (dword aligned, < 128 KiB), or null.
const RegisterInfo* find_register(uint32_t offset);

}  // namespace side::e1000
