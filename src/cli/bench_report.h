// What `side bench` writes: the results as JSON (every figure and every ratio, for machines) and as a Markdown
// report (tables, goals, the machine; for people and the README).
#pragma once

#include <string>

#include "bench/benchmark.h"

namespace side::cli {

std::string bench_json(const bench::BenchResults& r);
// `plots`: PNG file names (relative to the report) to embed, empty if there are none.
std::string bench_markdown(const bench::BenchResults& r, const std::vector<std::string>& plots);

}  // namespace side::cli
