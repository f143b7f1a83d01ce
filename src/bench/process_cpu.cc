#include "bench/process_cpu.h"

#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace side::bench {

double process_cpu_s(int pid) {
  clockid_t c = CLOCK_PROCESS_CPUTIME_ID;
  if (pid != getpid() && clock_getcpuclockid(pid, &c) != 0) return -1;
  timespec ts{};
  if (clock_gettime(c, &ts) != 0) return -1;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::vector<int> child_pids() {
  std::vector<int> out;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    std::ifstream in(task.path() / "children");
    for (int pid; in >> pid;) out.push_back(pid);
  }
  return out;
}

}  // namespace side::bench
