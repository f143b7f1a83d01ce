#include "session/shell_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "common/fd.h"

extern char** environ;

namespace side::session {

pid_t spawn_shell(const std::string& command, const std::string& netns, bool own_group, int output_fd) {
  std::vector<std::string> argv;
  if (!netns.empty()) argv = {"ip", "netns", "exec", netns};
  argv.insert(argv.end(), {"sh", "-c", command});
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  // The shell may leave children behind (the peer's `iperf3 -s` outlived every run before its group was stopped).
  posix_spawnattr_t attr;
  if (posix_spawnattr_init(&attr) != 0) return -1;
  if (own_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (output_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, output_fd, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, output_fd, STDERR_FILENO);
  }
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc == 0 ? pid : -1;
}

void stop_child(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  kill(-pid, SIGTERM);  // no such group (ESRCH) unless the command leads one
  bool reaped = false;
  for (int i = 0; i < 100 && !reaped; ++i) {
    reaped = waitpid(pid, nullptr, WNOHANG) == pid;
    if (!reaped) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(-pid, SIGKILL);  // what is left of its group (the shell's children), whether or not the shell has exited
  if (!reaped) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

namespace {

// Reads what is there on `fd` (non-blocking) into `out`, up to the cap; false at end of file.
bool drain(int fd, std::string& out) {
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) return false;
    if (n < 0) return true;  // EAGAIN: nothing more for now
    const size_t room = ShellResult::kMaxOutput - std::min(out.size(), ShellResult::kMaxOutput);
    out.append(buf, std::min(static_cast<size_t>(n), room));
  }
}

}  // namespace

ShellResult run_shell(const std::string& command, const std::string& netns, double timeout_s,
                      const std::atomic<bool>* stop) {
  ShellResult r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return r;
  Fd read_end(fds[0]), write_end(fds[1]);
  fcntl(read_end.get(), F_SETFL, O_NONBLOCK);
  // Its own group: a timeout stops what the shell started too.
  const pid_t pid = spawn_shell(command, netns, true, write_end.get());
  write_end = Fd();  // the command holds the only writer: its end is our end of file
  if (pid < 0) return r;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    pollfd p{read_end.get(), POLLIN, 0};
    poll(&p, 1, 20);
    drain(read_end.get(), r.output);
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      kill(-pid, SIGKILL);  // anything it left running in its group
      drain(read_end.get(), r.output);
      return r;
    }
    if (std::chrono::steady_clock::now() >= deadline || (stop && stop->load())) {
      r.timed_out = std::chrono::steady_clock::now() >= deadline;
      stop_child(pid);
      drain(read_end.get(), r.output);
      return r;
    }
  }
}

}  // namespace side::session
