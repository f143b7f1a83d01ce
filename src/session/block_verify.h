// Block traffic that verifies itself (`side run virtio_blk --verify`): patterned writes at varied offsets and
// sizes through any block::BlockDevice, as many in flight as the device takes, then every one read back (the same
// way) and compared byte for byte. Each write lies in
// its own stretch of the disk, so the read-back pass, after all writes (and a flush), also catches a write that
// landed somewhere else. The pattern depends on the byte's disk offset and the run's seed: stale data from an
// earlier run or a misplaced block never matches by chance.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "block/block_device.h"

namespace side::session {

struct BlockVerifyConfig {
  unsigned extents = 64;          // writes, one per stretch of the disk
  uint32_t max_bytes = 1u << 20;  // longest write (capped by the geometry's max_transfer)
  uint64_t seed = 1;
  std::chrono::milliseconds request_timeout{60'000};               // one request; then the run fails
  std::function<void(uint64_t done, uint64_t total)> on_progress;  // after each request, on its completion's thread
};

struct BlockVerifyResult {
  uint64_t blocks_written = 0, blocks_verified = 0, blocks_mismatched = 0;
  uint64_t bytes_written = 0, bytes_read = 0;
  uint64_t requests = 0;
  double write_s = 0, read_s = 0;
  std::string error;  // a request that failed, or "" (mismatches are counted, not errors)
  bool ok() const { return error.empty() && blocks_mismatched == 0 && blocks_verified == blocks_written; }
};

BlockVerifyResult run_block_verify(block::BlockDevice& disk, const BlockVerifyConfig& config);

// The byte the workload writes at disk offset `at` in a run with `seed`.
uint8_t verify_pattern(uint64_t at, uint64_t seed);

}  // namespace side::session
