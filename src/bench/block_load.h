// The requests `side bench --class block` times: issued by side itself against a disk (block::BlockDevice, the
// path the NBD and FUSE exports take), `depth` of them in flight at once, each `request_bytes` long at a random
// aligned place in the first `region_bytes` of the disk. Writes carry a pattern that depends only on the disk
// offset and the seed; reads are checked against it word for word (the region is filled first: fill_region), so
// a figure is never one of wrong data. The generator is one thread (the caller's): it fills, checks and reissues,
// and its own CPU time is measured apart.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "block/block_device.h"

namespace side::bench {

struct BlockLoadConfig {
  block::Op op = block::Op::kRead;  // kRead or kWrite
  uint32_t request_bytes = 4096;
  uint32_t depth = 1;
  uint64_t region_bytes = 0;  // 0: the whole disk
  uint64_t seed = 1;
  double warmup_s = 0.2, window_s = 1.0;
  std::chrono::milliseconds request_timeout{30'000};
  // Called on the generator's thread as the window opens and closes (the bench reads CPU clocks there).
  std::function<void()> on_window_start, on_window_end;
};

struct BlockLoadResult {
  double seconds = 0;  // the window, as measured
  uint64_t requests = 0, bytes = 0;
  uint64_t blocks_verified = 0, blocks_mismatched = 0;  // 512-byte blocks of reads completed in the window
  double generator_cpu_s = 0;                           // the generator thread's CPU over the window
  std::string error;                                    // a refused or failed request, a timeout, a mismatch
};

BlockLoadResult run_block_load(block::BlockDevice& disk, const BlockLoadConfig& config);

// Writes the pattern over the region (1 MiB requests, as many in flight as the disk takes); "" or what failed.
std::string fill_region(block::BlockDevice& disk, uint64_t region_bytes, uint64_t seed);

// The pattern: the 8-byte word at disk offset `at` (a multiple of 8) in a run with `seed`.
uint64_t block_pattern_word(uint64_t at, uint64_t seed);

}  // namespace side::bench
