// A bus for tests: records every access, answers reads from a programmable map (default: a pattern derived from the
// address) and can be told to fail at one address.
#pragma once

#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "emulation/emulate.h"

namespace side::emulation::testing {

struct BusEvent {
  bool write;
  Space space;
  uint64_t address;
  unsigned width;
  uint64_t value;
  friend bool operator==(const BusEvent&, const BusEvent&) = default;
};

class FakeBus final : public Bus {
 public:
  Result<uint64_t> read(Space space, uint64_t address, unsigned width) override {
    if (fail_at && *fail_at == address) return Error{"no device here"};
    uint64_t v = 0;
    auto it = values.find({space, address});
    if (it != values.end()) {
      v = it->second;
    } else {
      v = 0xa5a5a5a5a5a5a5a5ull ^ address;
    }
    v &= width >= 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * width)) - 1;
    log.push_back({false, space, address, width, v});
    return v;
  }
  Status write(Space space, uint64_t address, unsigned width, uint64_t value) override {
    if (fail_at && *fail_at == address) return Error{"no device here"};
    log.push_back({true, space, address, width, value});
    return {};
  }

  std::map<std::pair<Space, uint64_t>, uint64_t> values;
  std::optional<uint64_t> fail_at;
  std::vector<BusEvent> log;
};

}  // namespace side::emulation::testing
