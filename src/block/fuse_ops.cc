#include "block/fuse_ops.h"

#include <fcntl.h>
#include <linux/falloc.h>

#include <cerrno>
#include <ctime>
#include <memory>

namespace side::block {

namespace {

constexpr double kAttrTimeout = 3600;  // the attributes change only through this server, which answers with them

FuseFileState& state(fuse_req_t req) {
  return *static_cast<FuseFileState*>(fuse_req_userdata(req));
}

void reply_attr(fuse_req_t req, FuseFileState& s) {
  struct stat st;
  {
    std::lock_guard lock(s.mu);
    st = s.attr;
  }
  fuse_reply_attr(req, &st, kAttrTimeout);
}

void op_init(void*, fuse_conn_info* conn) {
  conn->max_write = 1u << 20;
  // O_TRUNC arrives with open() (and is ignored there) instead of as a truncate we would have to refuse.
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  // One large direct read or write may be split into requests the kernel sends at once.
  if (conn->capable & FUSE_CAP_ASYNC_DIO) conn->want |= FUSE_CAP_ASYNC_DIO;
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (ino != FUSE_ROOT_ID) return static_cast<void>(fuse_reply_err(req, ENOENT));
  reply_attr(req, state(req));
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  if (ino != FUSE_ROOT_ID) return static_cast<void>(fuse_reply_err(req, ENOENT));
  FuseFileState& s = state(req);
  if ((to_set & FUSE_SET_ATTR_SIZE) && static_cast<uint64_t>(attr->st_size) != s.io.size())
    return static_cast<void>(fuse_reply_err(req, EINVAL));
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  {
    std::lock_guard lock(s.mu);
    if (to_set & FUSE_SET_ATTR_MODE) s.attr.st_mode = S_IFREG | (attr->st_mode & 07777);
    if (to_set & FUSE_SET_ATTR_UID) s.attr.st_uid = attr->st_uid;
    if (to_set & FUSE_SET_ATTR_GID) s.attr.st_gid = attr->st_gid;
    if (to_set & FUSE_SET_ATTR_ATIME) s.attr.st_atim = attr->st_atim;
    if (to_set & FUSE_SET_ATTR_MTIME) s.attr.st_mtim = attr->st_mtim;
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) s.attr.st_atim = now;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) s.attr.st_mtim = now;
    s.attr.st_ctim = now;
  }
  reply_attr(req, s);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != FUSE_ROOT_ID) return static_cast<void>(fuse_reply_err(req, ENOENT));
  if (state(req).read_only && (fi->flags & O_ACCMODE) != O_RDONLY) return static_cast<void>(fuse_reply_err(req, EROFS));
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fuse_reply_open(req, fi);
}

void op_read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  if (off < 0) return static_cast<void>(fuse_reply_err(req, EINVAL));
  auto buf = std::make_unique_for_overwrite<uint8_t[]>(size ? size : 1);
  const ssize_t n = state(req).io.read(static_cast<uint64_t>(off), size, buf.get());
  if (n < 0) return static_cast<void>(fuse_reply_err(req, static_cast<int>(-n)));
  fuse_reply_buf(req, reinterpret_cast<const char*>(buf.get()), static_cast<size_t>(n));
}

void op_write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off, fuse_file_info*) {
  if (off < 0) return static_cast<void>(fuse_reply_err(req, EINVAL));
  const ssize_t n = state(req).io.write(static_cast<uint64_t>(off), size, reinterpret_cast<const uint8_t*>(buf));
  if (n < 0) return static_cast<void>(fuse_reply_err(req, static_cast<int>(-n)));
  fuse_reply_write(req, static_cast<size_t>(n));
}

// close(): nothing is buffered here, every write already reached the device.
void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(req, 0);
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(req, 0);
}

void op_fsync(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  fuse_reply_err(req, -state(req).io.flush());
}

// What fallocate(2) means on this file; see the header.
int fallocate_status(FuseFileState& s, int mode, uint64_t off, uint64_t len) {
  const bool keep_size = mode & FALLOC_FL_KEEP_SIZE;
  const bool beyond = off > s.io.size() || len > s.io.size() - off;
  mode &= ~FALLOC_FL_KEEP_SIZE;
  if (mode != 0 && mode != FALLOC_FL_PUNCH_HOLE && mode != FALLOC_FL_ZERO_RANGE) return EOPNOTSUPP;
  if (mode == FALLOC_FL_PUNCH_HOLE && !keep_size) return EOPNOTSUPP;  // the kernel's rule for every file
  if (beyond && !keep_size) return ENOSPC;                            // the file cannot grow
  if (s.read_only) return mode == 0 ? 0 : EROFS;
  if (mode == 0) return 0;
  return -s.io.zero(off, len, mode == FALLOC_FL_PUNCH_HOLE);
}

void op_fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t off, off_t len, fuse_file_info*) {
  if (off < 0 || len <= 0) return static_cast<void>(fuse_reply_err(req, EINVAL));
  fuse_reply_err(req, fallocate_status(state(req), mode, static_cast<uint64_t>(off), static_cast<uint64_t>(len)));
}

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops{};
  ops.init = op_init;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.open = op_open;
  ops.read = op_read;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.fallocate = op_fallocate;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& fuse_file_ops() {
  static const fuse_lowlevel_ops ops = make_ops();
  return ops;
}

}  // namespace side::block
