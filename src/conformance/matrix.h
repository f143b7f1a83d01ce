// The NIC matrix of `side conformance` (issue #14): which Debian driver is run on which device. A row is one entry
// here; the table shows them in this order.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace side::conformance {

struct MatrixEntry {
  std::string module;  // the driver, as `side run` takes it
  std::string device;  // as `side run --device` takes it: builtin or qemu:MODEL
  // "e1000@qemu:e1000": how --drivers and the tests name one row.
  std::string name() const { return module + "@" + device; }
};

std::span<const MatrixEntry> nic_matrix();

// The rows `items` name, in the matrix's order: an item is a driver (every row of it: "e1000") or one row
// ("e1000@qemu:e1000"); '-' and '_' in a driver's name are the same, as for modprobe. Empty: every row. An item
// naming no row is an error that lists the rows.
Result<std::vector<MatrixEntry>> select_rows(const std::vector<std::string>& items);

}  // namespace side::conformance
