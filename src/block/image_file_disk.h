// A BlockDevice over a regular file: the disk image the tests export, and later the image QEMU's nvme and
// virtio-blk models serve. Requests run on a few worker threads (so they complete out of order, from threads other
// than the submitter's, as a driver's would): pread/pwrite, fdatasync for flush and FUA, fallocate(PUNCH_HOLE) for
// discard, fallocate(ZERO_RANGE or PUNCH_HOLE) for write-zeroes with a fallback to writing zeroes.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "block/block_device.h"
#include "common/fd.h"
#include "common/result.h"

namespace side::block {

struct ImageFileOptions {
  uint32_t logical_block_size = 512;
  bool read_only = false;
  unsigned workers = 2;
  uint32_t queue_depth = 64;
  uint32_t max_transfer = 4u << 20;
};

class ImageFileDisk final : public BlockDevice {
 public:
  // Opens an existing image; its capacity is its size rounded down to the logical block size.
  static Result<std::unique_ptr<ImageFileDisk>> open(const std::string& path, const ImageFileOptions& options);
  // Creates (or truncates to) a sparse image of `bytes` bytes.
  static Status create_image(const std::string& path, uint64_t bytes);

  // Drains (bounded) and stops the workers.
  ~ImageFileDisk() override;

 protected:
  void start(const Request& r, Completion done) override;

 private:
  struct Job {
    Request request;
    Completion done;
  };

  ImageFileDisk(Fd fd, const Geometry& g, unsigned workers);
  void work();
  int execute(const Request& r);
  int read(const Request& r);
  int write(const Request& r);
  int write_zeroes(const Request& r);
  int discard(const Request& r);

  Fd fd_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace side::block
