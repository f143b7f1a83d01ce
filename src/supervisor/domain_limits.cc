#include "supervisor/domain_limits.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <string>

#include "common/log.h"
#include "common/sanitizer.h"

namespace side::supervisor {
namespace {

// The runtime's own address space, beyond the arena: the fixed image and trap regions (0.5 GiB), the device
// window region (1 GiB), glibc's per-thread malloc arenas and stacks, the binary and its libraries. Measured: a
// VmPeak of 1.9 GiB for a domain with a 64 MiB arena (its VmHWM: 33 MiB); the rest is headroom.
[[maybe_unused]] constexpr uint64_t kRuntimeAddressSpace = 3ull << 30;  // (unused in sanitizer builds)
// What the runtime keeps resident beyond the arena (the struct page array, heaps, module images, stacks).
constexpr uint64_t kRuntimeMemory = 256ull << 20;

// The supervisor's cgroup for a v1 controller, from /proc/self/cgroup ("4:memory:/some/path").
std::string own_cgroup(const std::string& controller) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    if (line.substr(first + 1, second - first - 1) == controller) return line.substr(second + 1);
  }
  return "";
}

bool write_file(const std::string& path, const std::string& value) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value.data(), value.size()) == static_cast<ssize_t>(value.size());
  ::close(fd);
  return ok;
}

// Async-signal-safe: open, write, close.
bool write_in_child(const char* path, const char* value, size_t len) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, value, len) == static_cast<ssize_t>(len);
  ::close(fd);
  return ok;
}

}  // namespace

DomainLimitValues DomainLimitValues::for_arena(uint64_t arena_bytes) {
  DomainLimitValues v;
  v.arena_bytes = arena_bytes;
  v.memory_bytes = arena_bytes + kRuntimeMemory;
#if !defined(SIDE_SANITIZER_BUILD)
  v.address_space = arena_bytes + kRuntimeAddressSpace;
#endif
  return v;
}

DomainLimits::DomainLimits(const DomainLimitValues& values) : values_(values) {
  auto add = [&](int resource, uint64_t value) {
    resources_[nr_limits_] = resource;
    limits_[nr_limits_++] = rlimit{value, value};
  };
  if (values_.address_space) add(RLIMIT_AS, values_.address_space);
  add(RLIMIT_NOFILE, values_.max_descriptors);
  add(RLIMIT_CORE, 0);
  add(RLIMIT_FSIZE, 0);
  add(RLIMIT_MEMLOCK, 0);
  create_cgroup();
}

// One directory per controller, below the supervisor's own cgroup (so its limits hold too). Any failure: no
// cgroup (rlimits still apply), said once.
void DomainLimits::create_cgroup() {
  static std::atomic<uint64_t> sequence{0};
  const std::string name = "side-domain-" + std::to_string(getpid()) + "-" + std::to_string(sequence++);
  struct Controller {
    const char* name;
    std::string limit_file, limit;
  };
  const Controller controllers[] = {{"memory", "memory.limit_in_bytes", std::to_string(values_.memory_bytes)},
                                    {"pids", "pids.max", std::to_string(values_.max_tasks)}};
  for (const auto& c : controllers) {
    const std::string root = std::string("/sys/fs/cgroup/") + c.name;
    const std::string own = own_cgroup(c.name);
    const std::string dir = root + (own == "/" ? "" : own) + "/" + name;
    if (own.empty() || ::access((root + "/cgroup.procs").c_str(), F_OK) != 0 || ::mkdir(dir.c_str(), 0700) != 0) {
      break;
    }
    cgroup_dirs_.push_back(dir);
    if (!write_file(dir + "/" + c.limit_file, c.limit)) break;
    procs_files_.push_back(dir + "/cgroup.procs");
  }
  if (procs_files_.size() != std::size(controllers)) {
    static std::atomic<bool> said{false};
    if (!said.exchange(true)) {
      logf(LogLevel::kInfo, "side: no writable memory and pids cgroups: domains are limited by rlimits only");
    }
    for (auto it = cgroup_dirs_.rbegin(); it != cgroup_dirs_.rend(); ++it) ::rmdir(it->c_str());
    cgroup_dirs_.clear();
    procs_files_.clear();
  }
}

DomainLimits::~DomainLimits() {
  // The process was reaped, so the cgroups are empty; a memory cgroup may take a moment to release its charges.
  for (const std::string& dir : cgroup_dirs_) {
    for (int attempt = 0; attempt < 50 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++attempt) usleep(2000);
  }
}

bool DomainLimits::apply_in_child() const {
  for (const std::string& procs : procs_files_) {
    if (!write_in_child(procs.c_str(), "0", 1)) return false;  // "0": the writing process
  }
  // Raising one's own score needs no privilege; a domain is the OOM killer's first choice.
  if (!write_in_child("/proc/self/oom_score_adj", "1000", 4)) return false;
  for (size_t i = 0; i < nr_limits_; ++i) {
    if (setrlimit(static_cast<__rlimit_resource>(resources_[i]), &limits_[i]) != 0) return false;
  }
  return true;
}

void DomainLimits::protect_supervisor() {
  static std::atomic<bool> done{false};
  if (done.exchange(true) || geteuid() != 0) return;
  // Not -1000 (never killed): a supervisor leaking memory must remain killable; domains (1000) go long before.
  if (!write_file("/proc/self/oom_score_adj", "-900")) {
    logf(LogLevel::kDebug, "side: the supervisor's OOM score stays (no CAP_SYS_RESOURCE); domains still go first");
  }
}

}  // namespace side::supervisor
