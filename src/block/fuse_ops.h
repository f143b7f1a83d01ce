// The FUSE requests of the exported disk file: one inode (the mount's root, a regular file) whose bytes are the
// disk's. It behaves as the disk's block device file would, so that tools written for files and for disks both
// work on it:
//  - read/write at any offset and length (partial blocks read-modify-written, byte_io.h); reads stop at the end,
//    writes stop there with ENOSPC; fsync flushes the device's cache;
//  - the size is the capacity and cannot change: truncating to another size is EINVAL (as ftruncate on a block
//    device), while open(O_TRUNC) is accepted and ignored (as for a block device), so `dd of=FILE` works;
//  - fallocate: PUNCH_HOLE (write-zeroes, deallocation allowed) and ZERO_RANGE (write-zeroes kept allocated) with
//    partial blocks zeroed by read-modify-write; mode 0 within the capacity succeeds (every block of a disk exists);
//    the others (COLLAPSE_RANGE, INSERT_RANGE, ...) are EOPNOTSUPP;
//  - mode, owner and times can be changed and are kept for the life of the mount.
// Files are opened direct_io: every read and write reaches the device, no page cache of the file can go stale
// when the same disk is also written through NBD, and a loop device or file system above keeps its own cache.
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <mutex>

#include "block/byte_io.h"

namespace side::block {

struct FuseFileState {
  FuseFileState(BlockDevice& device, std::chrono::milliseconds timeout) : io(device, timeout) {}

  ByteIo io;
  bool read_only = false;
  std::mutex mu;
  struct stat attr {};  // guarded by mu
};

// The operations; fuse_session_new()'s userdata is the FuseFileState.
const fuse_lowlevel_ops& fuse_file_ops();

}  // namespace side::block
