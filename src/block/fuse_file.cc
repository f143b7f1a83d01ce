#include "block/fuse_file.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "block/fuse_ops.h"
#include "common/fd.h"
#include "common/log.h"

extern char** environ;

namespace side::block {

namespace {

using namespace std::chrono_literals;

// Runs fusermount3 (what unmounts for a user who is not root), waiting at most 10 s for it.
bool fusermount(const std::vector<std::string>& args) {
  std::vector<char*> argv{const_cast<char*>("fusermount3")};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawnp(&pid, "fusermount3", nullptr, nullptr, argv.data(), environ) != 0) return false;
  int status = 0;
  for (int i = 0; i < 1000; ++i) {  // 1000 x 10 ms
    if (::waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    ::usleep(10'000);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return false;
}

// Unmounts `path`: cleanly if nothing uses it, else lazily (it disappears now, its users keep it until they go).
bool unmount(const std::string& path, bool lazy_only) {
  if (::geteuid() == 0) {
    if (!lazy_only && ::umount2(path.c_str(), 0) == 0) return true;
    return ::umount2(path.c_str(), MNT_DETACH) == 0;
  }
  if (!lazy_only && fusermount({"-u", "-q", path})) return true;
  return fusermount({"-u", "-z", "-q", path});
}

// The kernel's escapes in a mountinfo path (octal \ooo for space, tab, newline and backslash) undone.
std::string unescape_mountinfo(const std::string& field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    const auto octal = [&](size_t at) { return field[at] >= '0' && field[at] <= '7'; };
    if (field[i] == '\\' && i + 3 < field.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

// The device of the file system mounted last on `mount_point` (a canonical path), from /proc/self/mountinfo, or 0.
// Read there rather than by stat() on the mount: a FUSE server that asks its own mount and is killed while its
// request is being served waits, unkillable, for an answer that no thread of it is left to give.
dev_t mounted_device(const std::string& mount_point) {
  std::ifstream info("/proc/self/mountinfo");
  dev_t found = 0;
  std::string line;
  while (std::getline(info, line)) {
    std::istringstream fields(line);
    std::string id, parent, major_minor, root, point;
    unsigned major_number = 0, minor_number = 0;
    if (!(fields >> id >> parent >> major_minor >> root >> point)) continue;
    if (std::sscanf(major_minor.c_str(), "%u:%u", &major_number, &minor_number) != 2) continue;
    if (unescape_mountinfo(point) == mount_point) found = makedev(major_number, minor_number);
  }
  return found;
}

}  // namespace

// statfs() rather than stat(): the kernel answers stat() from attributes it cached while the server lived, but
// always asks the server for statfs(), so a dead one shows as ENOTCONN.
Status FuseFile::clean_stale(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) == 0 || errno != ENOTCONN) return {};
  if (unmount(path, true)) {
    logf(LogLevel::kNotice, "side: removed a dead FUSE mount left on %s", path.c_str());
    return {};
  }
  return make_error("a dead FUSE mount is on " + path + " and cannot be removed: run `fusermount3 -u " + path + "`");
}

FuseFile::FuseFile(BlockDevice& device, const FuseFileOptions& options)
    : options_(options), state_(std::make_unique<FuseFileState>(device, options.io_timeout)) {
  const Geometry& g = device.geometry();
  state_->read_only = g.read_only;
  struct stat& a = state_->attr;
  a.st_ino = FUSE_ROOT_ID;
  a.st_mode = S_IFREG | (g.read_only ? 0400 : 0600);
  a.st_nlink = 1;
  a.st_uid = ::geteuid();
  a.st_gid = ::getegid();
  a.st_size = static_cast<off_t>(g.capacity);
  a.st_blocks = static_cast<blkcnt_t>(g.capacity / 512);
  a.st_blksize = static_cast<blksize_t>(std::max<uint32_t>(g.logical_block_size, 4096));
  clock_gettime(CLOCK_REALTIME, &a.st_mtim);
  a.st_atim = a.st_ctim = a.st_mtim;
}

Result<std::unique_ptr<FuseFile>> FuseFile::start(BlockDevice& device, const FuseFileOptions& options) {
  std::unique_ptr<FuseFile> f(new FuseFile(device, options));
  if (Status s = f->mount(); !s) {
    f->stop();
    return s.error();
  }
  return f;
}

// Prepares the mount point, creates the session and mounts it; the request threads start here too.
Status FuseFile::mount() {
  const std::string& path = options_.path;
  SIDE_TRY(clean_stale(path));
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) return make_error("fuse: " + path + " is not a regular file");
    if (st.st_size != 0) return make_error("fuse: " + path + " is not empty (it would be hidden under the disk)");
  } else {
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd) return make_error("fuse: cannot create " + path + ": " + std::strerror(errno));
    created_ = true;
  }
  char canonical[PATH_MAX];
  if (!::realpath(path.c_str(), canonical)) return make_error("fuse: " + path + ": " + std::strerror(errno));
  const char* argv[] = {"side", "-o", "fsname=side,subtype=side-disk,default_permissions"};
  fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
  const fuse_lowlevel_ops& ops = fuse_file_ops();
  session_ = fuse_session_new(&args, &ops, sizeof ops, state_.get());
  fuse_opt_free_args(&args);
  if (!session_) return make_error("fuse: cannot create a session");
  if (fuse_session_mount(session_, path.c_str()) != 0) {
    fuse_session_destroy(session_);
    session_ = nullptr;
    return make_error("fuse: cannot mount on " + path + " (is /dev/fuse there, and fusermount3 for a non-root user?)");
  }
  loop_ = std::thread([this] { serve(); });
  mount_dev_ = mounted_device(canonical);
  if (mount_dev_ == 0) return make_error(std::string("fuse: the mount on ") + canonical + " is not in mountinfo");
  return {};
}

void FuseFile::serve() {
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, options_.threads ? options_.threads : 1);
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  fuse_session_loop_mt(session_, cfg);
  fuse_loop_cfg_destroy(cfg);
  std::lock_guard lock(mu_);
  loop_done_ = true;
  served_.notify_all();
}

bool FuseFile::wait_served(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return served_.wait_for(lock, timeout, [&] { return loop_done_; });
}

// Ends a connection that a lazy unmount left serving (its users still had the file open).
// The connections' control file system is not mounted everywhere (containers): as root, side mounts it.
void FuseFile::abort_connection() {
  const std::string connections = "/sys/fs/fuse/connections";
  const std::string knob = connections + "/" + std::to_string(minor(mount_dev_)) + "/abort";
  if (::access(knob.c_str(), W_OK) != 0 && ::geteuid() == 0)
    (void)::mount("fusectl", connections.c_str(), "fusectl", 0, nullptr);
  std::ofstream(knob) << "1\n";
}

void FuseFile::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (session_ && loop_.joinable()) {
    fuse_session_exit(session_);
    if (!unmount(options_.path, false)) logf(LogLevel::kWarning, "side: cannot unmount %s", options_.path.c_str());
    if (!wait_served(5s)) {
      abort_connection();
      if (!wait_served(5s + options_.io_timeout)) return detach();
    }
    loop_.join();
  }
  if (session_) {
    fuse_session_unmount(session_);
    fuse_session_destroy(session_);
    session_ = nullptr;
  }
  if (created_) ::unlink(options_.path.c_str());
}

// The request threads did not end within their bounds: leave them, and what they use, rather than free it under
// them. Only reached when the device stopped completing requests and the connection could not be aborted.
void FuseFile::detach() {
  logf(LogLevel::kError, "side: the FUSE export on %s did not stop; leaving it", options_.path.c_str());
  loop_.detach();
  static_cast<void>(state_.release());
  session_ = nullptr;
}

FuseFile::~FuseFile() {
  stop();
}

}  // namespace side::block
