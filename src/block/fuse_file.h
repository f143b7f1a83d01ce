// The disk as one regular file through FUSE (libfuse3, low-level API): `--fuse PATH` mounts the file system on
// PATH itself, a regular file (created empty if missing, removed again on stop), whose root inode is the disk. So
// PATH *is* the disk, as a loop-mountable image is:
//   mkfs.ext4 PATH && mount -o loop PATH /mnt
// rather than PATH/disk inside a directory mount: the same commands work whether a user points them at an image
// file or at side's export, and nothing else can be created beside it. (FUSE allows a regular file as mount
// point: the kernel's root inode then has the file's type.)
//
// Stopping unmounts (lazily if the file is still in use, e.g. by a loop device) and then waits, bounded, for the
// request threads; a mount still serving after that is aborted through /sys/fs/fuse/connections.
// If side is killed, the kernel keeps a dead mount on PATH ("Transport endpoint is not connected") until it is
// unmounted: `fusermount3 -u PATH` (or `umount -l PATH` as root). The next start on the same PATH does that
// itself (clean_stale()).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "block/block_device.h"
#include "common/result.h"

struct fuse_session;

namespace side::block {

struct FuseFileState;

struct FuseFileOptions {
  std::string path;                               // the mount point: a regular file, absent or empty
  std::chrono::milliseconds io_timeout{120'000};  // one device request, before it is reported as EIO
  unsigned threads = 4;                           // FUSE request threads
};

class FuseFile {
 public:
  // Mounts; an error says why (no /dev/fuse, no permission, PATH a directory or a non-empty file, ...).
  static Result<std::unique_ptr<FuseFile>> start(BlockDevice& device, const FuseFileOptions& options);
  ~FuseFile();

  // Unmounts and waits for the request threads (bounded). Idempotent.
  void stop();

  // Unmounts a dead mount at `path` left by a side that was killed. Nothing to do is success.
  static Status clean_stale(const std::string& path);

 private:
  FuseFile(BlockDevice& device, const FuseFileOptions& options);
  Status mount();
  void serve();
  bool wait_served(std::chrono::milliseconds timeout);
  void detach();
  void abort_connection();

  const FuseFileOptions options_;
  std::unique_ptr<FuseFileState> state_;
  fuse_session* session_ = nullptr;
  dev_t mount_dev_ = 0;  // the mounted file system's device: names its /sys/fs/fuse/connections entry
  bool created_ = false;
  bool stopped_ = false;
  std::thread loop_;
  std::mutex mu_;
  std::condition_variable served_;
  bool loop_done_ = false;
};

}  // namespace side::block
