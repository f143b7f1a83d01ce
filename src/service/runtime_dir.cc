#include "service/runtime_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/numbers.h"

namespace side::service {

std::string runtime_dir() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v && *v ? v : "";
  };
  if (auto dir = env("SIDE_RUNTIME_DIR"); !dir.empty()) return dir;
  if (::geteuid() == 0) return "/run/side";
  if (auto xdg = env("XDG_RUNTIME_DIR"); !xdg.empty()) return xdg + "/side";
  return "/tmp/side-" + std::to_string(::geteuid());
}

std::string control_socket_path(const std::string& dir, pid_t pid) {
  return dir + "/" + std::to_string(pid) + ".sock";
}

std::optional<pid_t> control_socket_pid(const std::string& file_name) {
  static constexpr std::string_view kSuffix = ".sock";
  if (!file_name.ends_with(kSuffix)) return std::nullopt;
  auto pid = parse_unsigned(file_name.substr(0, file_name.size() - kSuffix.size()), 1, 0x3fffffff, "a pid");
  if (!pid) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

Status prepare_runtime_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_error("cannot create " + dir + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return make_error("cannot examine " + dir + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) return make_error(dir + " is not a directory");
  if (st.st_uid != ::geteuid()) {
    return make_error(dir + " belongs to uid " + std::to_string(st.st_uid) + ", not to this user");
  }
  if ((st.st_mode & 022) != 0) return make_error(dir + " can be written by others than its owner");
  return {};
}

}  // namespace side::service
