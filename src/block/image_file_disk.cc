#include "block/image_file_disk.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace side::block {

namespace {

// Bounded by the request length: every iteration moves at least one byte or ends.
int pread_all(int fd, uint8_t* buf, size_t len, uint64_t off) {
  while (len) {
    const ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) {  // the file shrank under us: the missing tail reads as zeroes, as a hole would
      std::memset(buf, 0, len);
      return 0;
    }
    buf += n, len -= static_cast<size_t>(n), off += static_cast<uint64_t>(n);
  }
  return 0;
}

int pwrite_all(int fd, const uint8_t* buf, size_t len, uint64_t off) {
  while (len) {
    const ssize_t n = ::pwrite(fd, buf, len, static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EDQUOT || errno == EFBIG ? ENOSPC : errno;
    if (n == 0) return EIO;
    buf += n, len -= static_cast<size_t>(n), off += static_cast<uint64_t>(n);
  }
  return 0;
}

int datasync(int fd) {
  return ::fdatasync(fd) == 0 ? 0 : errno;
}

}  // namespace

Status ImageFileDisk::create_image(const std::string& path, uint64_t bytes) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return make_error("cannot create " + path + ": " + std::strerror(errno));
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0)
    return make_error("cannot size " + path + ": " + std::strerror(errno));
  return {};
}

Result<std::unique_ptr<ImageFileDisk>> ImageFileDisk::open(const std::string& path, const ImageFileOptions& o) {
  Fd fd(::open(path.c_str(), (o.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
  if (!fd) return make_error("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return make_error(path + " is not a regular file");
  Geometry g;
  g.logical_block_size = o.logical_block_size;
  g.capacity = static_cast<uint64_t>(st.st_size) / o.logical_block_size * o.logical_block_size;
  g.max_transfer = o.max_transfer;
  g.max_discard = 1u << 30;
  g.queue_depth = o.queue_depth;
  g.read_only = o.read_only;
  g.flush = g.fua = g.discard = g.write_zeroes = true;
  if (!geometry_valid(g)) return make_error(path + ": no usable disk geometry (empty, or bad block size or limits)");
  const unsigned workers = o.workers ? o.workers : 1;
  return std::unique_ptr<ImageFileDisk>(new ImageFileDisk(std::move(fd), g, workers));
}

ImageFileDisk::ImageFileDisk(Fd fd, const Geometry& g, unsigned workers) : BlockDevice(g), fd_(std::move(fd)) {
  for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
}

ImageFileDisk::~ImageFileDisk() {
  // Requests already queued still complete (the workers empty the queue before stopping): completions run before
  // the exporters that own their state go, since those drain first; this bound only covers a stuck file system.
  drain(std::chrono::seconds(30));
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ImageFileDisk::start(const Request& r, Completion done) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(Job{r, std::move(done)});
  }
  wake_.notify_one();
}

void ImageFileDisk::work() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job.done(execute(job.request));
  }
}

int ImageFileDisk::execute(const Request& r) {
  int status = 0;
  switch (r.op) {
    case Op::kRead:
      return read(r);
    case Op::kWrite:
      status = write(r);
      break;
    case Op::kFlush:
      return datasync(fd_.get());
    case Op::kDiscard:
      status = discard(r);
      break;
    case Op::kWriteZeroes:
      status = write_zeroes(r);
      break;
  }
  if (status == 0 && (r.flags & kFua)) status = datasync(fd_.get());
  return status;
}

int ImageFileDisk::read(const Request& r) {
  return pread_all(fd_.get(), r.data, r.length, r.offset);
}

int ImageFileDisk::write(const Request& r) {
  return pwrite_all(fd_.get(), r.data, r.length, r.offset);
}

// Discard is a hint: a file system that cannot punch holes leaves the data, which the contract allows.
int ImageFileDisk::discard(const Request& r) {
  const int mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  if (::fallocate(fd_.get(), mode, static_cast<off_t>(r.offset), r.length) == 0) return 0;
  return errno == EOPNOTSUPP || errno == ENOSYS ? 0 : errno;
}

// Zeroes must read back: a hole (unmap allowed) or an allocated zero range, else zeroes written out.
int ImageFileDisk::write_zeroes(const Request& r) {
  const int mode =
      (r.flags & kNoUnmap) ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
  if (::fallocate(fd_.get(), mode, static_cast<off_t>(r.offset), r.length) == 0) return 0;
  if (errno != EOPNOTSUPP && errno != ENOSYS) return errno;
  static const std::vector<uint8_t> zeroes(1u << 20, 0);
  for (uint64_t done = 0; done < r.length;) {
    const size_t n = std::min<uint64_t>(zeroes.size(), r.length - done);
    if (int err = pwrite_all(fd_.get(), zeroes.data(), n, r.offset + done)) return err;
    done += n;
  }
  return 0;
}

}  // namespace side::block
