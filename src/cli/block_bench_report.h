// What `side bench --class block` writes: the results as JSON (a side-bench/1 document of class "block": every
// point and every isolated/in-process ratio) and as a Markdown report (Leslie & Heiser's figures 2 and 3 as tables:
// throughput and CPU per request, in-process against isolated, per request size and queue depth).
#pragma once

#include <string>
#include <vector>

#include "bench/block_bench.h"

namespace side::cli {

std::string block_bench_json(const bench::BlockBenchResults& r);
// `plots`: PNG file names (relative to the report) to embed, empty if there are none.
std::string block_bench_markdown(const bench::BlockBenchResults& r, const std::vector<std::string>& plots);

}  // namespace side::cli
