#include "bench/machine_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <string>

namespace side::bench {
namespace {

// The value of the first "key : value" line of a /proc-style file whose key is `key`.
std::string field(const char* path, const std::string& key, char separator) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto sep = line.find(separator);
    if (sep == std::string::npos) continue;
    std::string k = line.substr(0, sep);
    while (!k.empty() && (k.back() == ' ' || k.back() == '\t')) k.pop_back();
    if (k != key) continue;
    std::string v = line.substr(sep + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '"')) v.erase(v.begin());
    while (!v.empty() && (v.back() == ' ' || v.back() == '"')) v.pop_back();
    return v;
  }
  return "";
}

}  // namespace

MachineInfo describe_machine() {
  MachineInfo m;
  m.cpu_model = field("/proc/cpuinfo", "model name", ':');
  m.cpus = static_cast<unsigned>(sysconf(_SC_NPROCESSORS_ONLN));
  m.memory_bytes = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  utsname u{};
  if (uname(&u) == 0) m.kernel = std::string(u.release) + " " + u.machine;
  m.os = field("/etc/os-release", "PRETTY_NAME", '=');
  std::string flags = field("/proc/cpuinfo", "flags", ':');
  if ((" " + flags + " ").find(" hypervisor ") != std::string::npos) m.hypervisor = "virtual machine";
#if defined(__clang__)
  m.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  m.compiler = "gcc " __VERSION__;
#endif
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  m.date_utc = buf;
  return m;
}

}  // namespace side::bench
