#include "devices/vfio_user/qemu_process.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace side::vfio_user {
namespace {

constexpr uid_t kNobody = 65534;
constexpr int kNetdevFd = 3;  // the frame socket's number in QEMU
constexpr int kDiskFd = 4;    // the disk image's number in QEMU

std::string mac_text(const std::array<uint8_t, 6>& mac) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
  return buf;
}

std::vector<std::string> qemu_arguments(const QemuConfig& c, const std::string& socket_path) {
  std::string device = c.device + ",id=dev0,romfile=";
  std::vector<std::string> a = {c.binary,      "-machine",        "x-remote,vfio-user=on,auto-shutdown=on",
                                "-nodefaults", "-no-user-config", "-display",
                                "none"};
  if (c.network) {
    a.insert(a.end(), {"-netdev", "socket,id=n0,fd=" + std::to_string(kNetdevFd)});
    device += ",netdev=n0,mac=" + mac_text(c.mac);
  }
  if (c.disk) {
    // QEMU (nobody) never opens the image by path: side opened it and QEMU's file driver takes the descriptor
    // from fdset 1. Write-back caching: the guest's flushes are what makes writes durable (fdatasync). Direct:
    // QEMU sets O_DIRECT on its copy of the descriptor (fcntl), and its requests bypass the page cache.
    a.insert(a.end(),
             {"-add-fd", "fd=" + std::to_string(kDiskFd) + ",set=1", "-blockdev",
              std::string("driver=raw,node-name=d0,file.driver=file,file.filename=/dev/fdset/1,cache.direct=") +
                  (c.disk_direct ? "on" : "off")});
    device += ",drive=d0";
  }
  a.insert(a.end(),
           {"-device", device, "-object", "x-vfio-user-server,id=vfu0,type=unix,path=" + socket_path + ",device=dev0"});
  return a;
}

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void exec_child(char* const* argv, int null_fd, int log_fd, int netdev_fd, int disk_fd, pid_t parent) {
  if (geteuid() == 0) {
    // No network but the frame socket; nobody, without a way back to privileges.
    if (unshare(CLONE_NEWNET) != 0) _exit(126);
    if (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
        setresuid(kNobody, kNobody, kNobody) != 0)
      _exit(126);
  }
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // after the credential change, which clears it
  if (getppid() != parent) _exit(127);
  if (dup2(null_fd, 0) < 0 || dup2(null_fd, 1) < 0 || dup2(log_fd, 2) < 0) _exit(127);
  if (netdev_fd >= 0 && dup2(netdev_fd, kNetdevFd) < 0) _exit(127);
  if (disk_fd >= 0 && dup2(disk_fd, kDiskFd) < 0) _exit(127);
  if (netdev_fd < 0 && disk_fd >= 0) close(kNetdevFd);  // below the range closed next: nothing of side's leaks
  syscall(SYS_close_range, disk_fd >= 0 ? kDiskFd + 1 : netdev_fd >= 0 ? kNetdevFd + 1 : 3, ~0u, 0);
  execv(argv[0], argv);
  _exit(127);
}

// $TMPDIR as every tool honours it (an absolute path), else /tmp: a caller can keep its QEMUs' directories apart.
std::string temporary_directory() {
  const char* dir = std::getenv("TMPDIR");
  if (dir && dir[0] == '/') return dir;
  return "/tmp";
}

}  // namespace

Result<std::unique_ptr<QemuProcess>> QemuProcess::start(const QemuConfig& config, int netdev_fd, int disk_fd) {
  if (access(config.binary.c_str(), X_OK) != 0)
    return make_error("no QEMU with the vfio-user server at " + config.binary + " (scripts/build-qemu.sh builds it)");
  std::unique_ptr<QemuProcess> p(new QemuProcess);
  p->config_ = config;
  std::string tmpl = temporary_directory() + "/side-qemu-XXXXXX";
  if (!mkdtemp(tmpl.data())) return make_error(std::string("mkdtemp: ") + std::strerror(errno));
  p->dir_ = tmpl;
  // QEMU (nobody) creates its socket here; only it and root can enter.
  if (geteuid() == 0 && chown(tmpl.c_str(), kNobody, kNobody) != 0)
    return make_error("chown: " + std::string(std::strerror(errno)));
  const std::string socket_path = p->dir_ + "/server.sock";
  if (socket_path.size() >= sizeof(sockaddr_un{}.sun_path)) return make_error("socket path too long");

  auto args = qemu_arguments(config, socket_path);
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  Fd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  Fd log_fd(::open((p->dir_ + "/qemu.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!null_fd || !log_fd) return make_error(std::string("cannot open QEMU's log: ") + std::strerror(errno));
  // Above the numbers dup2 targets, so no source is clobbered.
  Fd netdev(netdev_fd >= 0 ? fcntl(netdev_fd, F_DUPFD_CLOEXEC, 100) : -1);
  Fd disk(disk_fd >= 0 ? fcntl(disk_fd, F_DUPFD_CLOEXEC, 100) : -1);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return make_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) exec_child(argv.data(), null_fd.get(), log_fd.get(), netdev.get(), disk.get(), parent);
  p->pid_ = pid;
  return p;
}

QemuProcess::~QemuProcess() {
  stop();
}

bool QemuProcess::exited() {
  if (reaped_ || pid_ < 0) return true;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) reaped_ = true;
  return reaped_;
}

Result<Fd> QemuProcess::connect() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = dir_ + "/server.sock";
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const auto deadline = std::chrono::steady_clock::now() + config_.start_timeout;
  for (;;) {
    Fd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return make_error(std::string("socket: ") + std::strerror(errno));
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return s;
    if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN)
      return make_error("cannot connect to QEMU's vfio-user socket: " + std::string(std::strerror(errno)));
    if (exited()) return make_error("QEMU exited during start-up: " + log_tail());
    if (std::chrono::steady_clock::now() > deadline)
      return make_error("QEMU's vfio-user socket did not appear within " +
                        std::to_string(config_.start_timeout.count()) + " ms: " + log_tail());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void QemuProcess::stop() {
  if (pid_ > 0 && !exited()) {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100 && !exited(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!exited()) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
      reaped_ = true;
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    dir_.clear();
  }
}

std::string QemuProcess::log_tail() const {
  std::ifstream in(dir_ + "/qemu.log");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.size() > 400) s = "..." + s.substr(s.size() - 400);
  return s.empty() ? "(QEMU printed nothing)" : s;
}

}  // namespace side::vfio_user
