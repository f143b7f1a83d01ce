// `side run` when the job cannot start, and what it leaves behind: one error line and the documented status, no
// report of zeroes; a spare domain's log heard only if it is used; no peer command outliving side.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Outcome {
  int status = -1;
  std::string out, err;
};

// A program (the real side, or side under unshare), stdout and stderr each into a pipe of its own.
Outcome execute(std::vector<std::string> args) {
  int out_pipe[2], err_pipe[2];
  if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    close(out_pipe[0]);
    close(err_pipe[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    alarm(300);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  Outcome o;
  // stderr first, whole: side's stdout output here is small (a pipe buffer holds it).
  char buf[4096];
  for (ssize_t n; (n = read(err_pipe[0], buf, sizeof buf)) > 0;) o.err.append(buf, static_cast<size_t>(n));
  for (ssize_t n; (n = read(out_pipe[0], buf, sizeof buf)) > 0;) o.out.append(buf, static_cast<size_t>(n));
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  o.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return o;
}

Outcome side(std::vector<std::string> args) {
  args.insert(args.begin(), SIDE_BINARY);
  return execute(std::move(args));
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

bool root() {
  return geteuid() == 0;
}

// Exactly one line on stderr, "side: ..."; nothing on stdout.
void expect_one_error_line(const Outcome& o, int status) {
  EXPECT_EQ(o.status, status) << o.err;
  EXPECT_TRUE(o.err.starts_with("side: ") || o.err.starts_with("side inject: ")) << o.err;
  EXPECT_EQ(count(o.err, "\n"), 1u) << o.err;
  EXPECT_EQ(o.out, "") << "a report of a job that never started";
}

TEST(RunErrors, ABadParameterValueIsOneLineAndStatusTwo) {
  Outcome o = side({"run", "e1000", "TxDescriptors=abc", "--packets", "10"});
  expect_one_error_line(o, 2);
  EXPECT_NE(o.err.find("TxDescriptors"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("'abc'"), std::string::npos) << o.err;
}

TEST(RunErrors, AnUnknownParameterIsOneLineAndStatusTwo) {
  Outcome o = side({"run", "e1000", "TxDescriptor=256", "--packets", "10"});
  expect_one_error_line(o, 2);
  EXPECT_NE(o.err.find("no parameter 'TxDescriptor'"), std::string::npos) << o.err;
}

TEST(RunErrors, GoodParametersAreTakenAsTheKernelWould) {
  // Hexadecimal, arrays, a trailing newline: the check refuses nothing the kernel's param_set_* accept.
  Outcome o = side({"run", "e1000", "TxDescriptors=0x100,256", "copybreak=0", "RxDescriptors=256\n", "--isolation",
                    "inproc", "--packets", "10", "--quiet"});
  EXPECT_EQ(o.status, 0) << o.err << o.out;
}

// The job fails before the driver is up (the host interface cannot be made): the reason, once, and status 1.
TEST(RunErrors, AJobThatCannotStartIsOneLineAndStatusOne) {
  if (!root()) GTEST_SKIP() << "needs root for TAP interfaces";
  Outcome o = side({"run", "e1000", "--ifname", "lo", "--duration", "1"});
  expect_one_error_line(o, 1);
  EXPECT_NE(o.err.find("lo"), std::string::npos) << o.err;
}

// A domain that cannot start (here: no kernel-API layer where SIDE_KAPI says): the reason once, no report or table
// of zeroes and an empty MAC, status 1 (the job failed).
TEST(RunErrors, ADomainThatCannotStartIsOneLineAndStatusOne) {
  expect_one_error_line(execute({"env", "SIDE_KAPI=/nonexistent", SIDE_BINARY, "run", "e1000", "--packets", "10"}), 1);
  expect_one_error_line(
      execute({"env", "SIDE_KAPI=/nonexistent", SIDE_BINARY, "inject", "e1000", "--faults", "1", "--quiet"}), 1);
}

// The recovery spare loads and initialises the driver ahead of need: its init banner printed the driver's banner
// a second time. It is heard only if the spare takes over, marked as the spare's.
TEST(RunErrors, TheSparesLogIsHeardOnlyWhenItIsUsed) {
  // Long enough for the spare, started once the driver opened its device, to have loaded.
  Outcome plain = side({"run", "e1000", "--wire", "builtin", "--duration", "6"});
  EXPECT_EQ(plain.status, 0) << plain.err;
  EXPECT_EQ(count(plain.err, "Intel(R) PRO/1000 Network Driver"), 1u) << plain.err;
  EXPECT_EQ(count(plain.err, ", spare]"), 0u) << plain.err;

  Outcome crashed = side({"run", "e1000", "--wire", "builtin", "--duration", "4", "--kill-after", "2"});
  // Killed on purpose (--kill-after): the first instance fails, and the spare takes over.
  EXPECT_EQ(count(crashed.err, "Intel(R) PRO/1000 Network Driver"), 2u) << crashed.err;
  EXPECT_EQ(count(crashed.err, ", spare] e1000: Intel(R) PRO/1000 Network Driver"), 1u) << crashed.err;
}

// No such process, or one that has exited and waits only to be reaped.
bool process_gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

// Commit 57749ff: the peer's command (`iperf3 -s`) outlived side. Whatever the peer command starts must be gone
// when side is.
TEST(RunCleanup, NoPeerCommandOutlivesTheRun) {
  if (!root()) GTEST_SKIP() << "needs root for TAP interfaces and namespaces";
  const std::string pid_file =
      (std::filesystem::temp_directory_path() / ("side-peer-pid-" + std::to_string(getpid()))).string();
  std::filesystem::remove(pid_file);
  // In a network namespace of its own (as tests/integration/network_test.cc runs side), beside other sides.
  Outcome o = execute({"unshare", "-n", SIDE_BINARY, "run", "e1000", "--quiet", "--duration", "2", "--peer-exec",
                       "sleep 600 & echo $! > " + pid_file + "; wait"});
  EXPECT_EQ(o.status, 0) << o.err;
  std::ifstream in(pid_file);
  pid_t pid = 0;
  ASSERT_TRUE(in >> pid) << "the peer command did not run";
  std::filesystem::remove(pid_file);
  ASSERT_GT(pid, 1);
  // Dead within a moment (signals are delivered asynchronously). It was never our child: once its shell is gone it
  // belongs to PID 1, which on these machines does not reap, so a zombie counts as gone.
  bool alive = true;
  for (int i = 0; i < 100 && alive; ++i) {
    alive = !process_gone(pid);
    if (alive) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (alive) ::kill(pid, SIGKILL);
  EXPECT_FALSE(alive) << "the peer command's child " << pid << " outlived side";
}

}  // namespace
