#include "net/netns.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace side::net {

int run_program(const std::vector<std::string>& argv, std::string* output) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipefd[1]);
  std::string out;
  std::array<char, 4096> buf;
  for (ssize_t n; (n = read(pipefd[0], buf.data(), buf.size())) > 0;) out.append(buf.data(), static_cast<size_t>(n));
  close(pipefd[0]);
  if (output) *output = out;
  if (rc != 0) {
    if (output) *output = argv[0] + ": " + std::strerror(rc);
    return -1;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Status ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out;
  if (run_program(argv, &out) != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return make_error(cmd + ": " + out);
  }
  return {};
}

bool have_net_admin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_NET_ADMIN / 32].effective >> (CAP_NET_ADMIN % 32)) & 1;
}

Result<NetNamespace> NetNamespace::create(const std::string& name) {
  SIDE_TRY(net::ip({"netns", "add", name}));
  NetNamespace ns(name);
  SIDE_TRY(ns.ip({"link", "set", "lo", "up"}));
  return ns;
}

namespace {

// The pid in PREFIX-<pid>, or 0 if NAME is not of that form.
pid_t owner_pid(const std::string& name, const std::string& prefix) {
  if (name.size() <= prefix.size() + 1 || name.compare(0, prefix.size(), prefix) != 0 || name[prefix.size()] != '-')
    return 0;
  const char* first = name.data() + prefix.size() + 1;
  const char* last = name.data() + name.size();
  pid_t pid = 0;
  auto [end, ec] = std::from_chars(first, last, pid);
  return ec == std::errc() && end == last && pid > 0 ? pid : 0;
}

bool process_is_gone(pid_t pid) {
  return kill(pid, 0) != 0 && errno == ESRCH;
}

// Named namespaces are the files iproute2 keeps in /run/netns.
void delete_abandoned(const std::string& prefix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    std::string name = entry.path().filename().string();
    pid_t pid = owner_pid(name, prefix);
    if (pid != 0 && (pid == getpid() || process_is_gone(pid))) (void)net::ip({"netns", "delete", name});
  }
}

}  // namespace

Result<NetNamespace> NetNamespace::create_owned(const std::string& prefix) {
  delete_abandoned(prefix);
  return create(prefix + "-" + std::to_string(getpid()));
}

NetNamespace::~NetNamespace() {
  if (!name_.empty()) (void)net::ip({"netns", "delete", name_});
}

Status NetNamespace::ip(const std::vector<std::string>& args) const {
  std::vector<std::string> a = {"-n", name_};
  a.insert(a.end(), args.begin(), args.end());
  return net::ip(a);
}

}  // namespace side::net
