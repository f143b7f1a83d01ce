// A disk seen as a regular file's bytes, for the FUSE export: any offset and length, synchronous, bounded.
//  - Partial blocks at the edges of a write are read, modified and written back. Such a write holds an exclusive
//    lock meanwhile and aligned writes a shared one, so no write lands between another's read and write-back.
//  - Like a block device file: reads stop at the end (short, then 0), writes stop at the end (short, then ENOSPC).
//  - Every wait for the device is bounded by `timeout`; a request that overruns it reports EIO, and the buffer it
//    was given stays alive (owned by its completion) until the device completes it, whenever that is.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <shared_mutex>

#include "block/block_device.h"

namespace side::block {

class ByteIo {
 public:
  ByteIo(BlockDevice& device, std::chrono::milliseconds timeout) : dev_(device), timeout_(timeout) {}

  uint64_t size() const { return dev_.geometry().capacity; }

  // Bytes read (0 at or past the end), or -errno.
  ssize_t read(uint64_t offset, size_t length, uint8_t* out);
  // Bytes written (fewer than `length` when the end was reached), -ENOSPC at or past the end, or -errno.
  ssize_t write(uint64_t offset, size_t length, const uint8_t* in);
  // Makes [offset, offset + length) (clipped to the end) read as zeroes; `unmap`: the device may deallocate it.
  // 0 or -errno.
  int zero(uint64_t offset, uint64_t length, bool unmap);
  // Makes every completed write durable. 0 or -errno.
  int flush();

 private:
  static constexpr uint32_t kChunk = 1u << 20;  // bytes moved per device request from here

  int run(Request r, std::shared_ptr<uint8_t[]> keep_alive);
  int read_chunk(uint64_t offset, size_t length, uint8_t* out);
  int write_chunk(uint64_t offset, size_t length, const uint8_t* in);
  int write_zero_blocks(uint64_t offset, uint64_t length, bool unmap);

  BlockDevice& dev_;
  const std::chrono::milliseconds timeout_;
  std::shared_mutex rmw_;
};

}  // namespace side::block
