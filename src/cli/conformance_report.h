// What `side conformance` prints: the table for people (aligned text), the same table in Markdown (report.md,
// the README), and one JSON document (schema side-conformance/1, docs/schemas/conformance.schema.json).
#pragma once

#include <string>
#include <vector>

#include "conformance/row.h"

namespace side::cli {

struct ConformanceRun {
  std::vector<conformance::RowResult> rows;
  double elapsed_s = 0;
  std::string date_utc;  // when it ran, "2026-12-06 23:10 UTC"
  bool ok() const;       // every row passed
};

// A step's cell: its figures when it passed ("ok 6.9 ms", "20/20, 0% loss, p50 0.61 ms"), "FAIL: reason", or
// "not run".
std::string conformance_cell(const conformance::RowResult& row, conformance::Step step);
// The kernel functions still missing: "none", or their count and names (the first `shown`, then "...").
std::string missing_cell(const conformance::RowResult& row, size_t shown);

std::string conformance_table(const ConformanceRun& run);
std::string conformance_markdown(const ConformanceRun& run);
std::string conformance_json(const ConformanceRun& run);

}  // namespace side::cli
