// The progress line of long commands: shown on a terminal (a pseudo-terminal here), redrawn in place, never in a
// pipe or with --quiet. The real `side inject` runs in each case.
#include "cli/progress.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace side::cli {
namespace {

TEST(ProgressLine, SaysDoneTotalElapsedEstimateAndStep) {
  EXPECT_EQ(ProgressLine::format("side inject", 0, 10, 3.2, "fault 1: crash", 200),
            "side inject: 0/10 (0%), 0:03 elapsed: fault 1: crash");
  // Steps left are estimated at the pace of those done: 4 done in 40 s, 6 left.
  EXPECT_EQ(ProgressLine::format("side bench", 4, 10, 40, "latency inproc 64 B", 200),
            "side bench: 4/10 (40%), 0:40 elapsed, about 1:00 left: latency inproc 64 B");
  EXPECT_EQ(ProgressLine::format("side bench", 1, 2, 3700, "", 200),
            "side bench: 1/2 (50%), 1:01:40 elapsed, about 1:01:40 left");
  // Never wider than the terminal (a wrapped line cannot be redrawn in place), nor with a control character.
  EXPECT_EQ(ProgressLine::format("side inject", 1, 3, 1, "step", 20).size(), 19u);
  EXPECT_EQ(ProgressLine::format("side inject", 1, 3, 1, "a\x1b[2Jb", 200).find('\x1b'), std::string::npos);
}

struct Captured {
  int status = -1;
  std::string err;  // stderr (and, under the terminal, stdout too)
};

// `side ARGS` with stderr (and stdout) on a pseudo-terminal, as a user at a terminal runs it.
Captured run_on_terminal(std::vector<std::string> args) {
  args.insert(args.begin(), SIDE_BINARY);
  int master = -1;
  winsize ws{};
  ws.ws_col = 200;
  ws.ws_row = 50;
  pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  if (pid == 0) {
    setenv("TERM", "xterm", 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    alarm(300);
    execv(SIDE_BINARY, argv.data());
    _exit(127);
  }
  Captured out;
  if (pid < 0) return out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);  // EIO once the last writer of the terminal is gone
    if (n <= 0) break;
    out.err.append(buf, static_cast<size_t>(n));
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

// `side ARGS` with stderr into a pipe (a log, a script) and stdout to /dev/null.
Captured run_into_pipe(std::vector<std::string> args) {
  args.insert(args.begin(), SIDE_BINARY);
  int fds[2];
  if (pipe(fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 2);
    close(fds[0]);
    std::freopen("/dev/null", "w", stdout);
    setenv("TERM", "xterm", 1);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    alarm(300);
    execv(SIDE_BINARY, argv.data());
    _exit(127);
  }
  close(fds[1]);
  Captured out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) out.err.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

const std::vector<std::string> kCampaign = {"inject", "e1000", "--faults", "2", "--types", "crash"};

TEST(ProgressLine, ATerminalSeesItRedrawnInPlaceAndErasedAtTheEnd) {
  Captured c = run_on_terminal(kCampaign);
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_NE(c.err.find("\r\x1b[Kside inject: 0/2 (0%), "), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("elapsed: fault 1: crash"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("side inject: 1/2 (50%), "), std::string::npos) << c.err;
  // The results come after the line was erased, at the start of a clean line.
  const size_t table = c.err.find("fault    injected");
  ASSERT_NE(table, std::string::npos) << c.err;
  EXPECT_GE(table, 4u);
  EXPECT_EQ(c.err.substr(table - 4, 4), "\r\x1b[K") << c.err;
}

TEST(ProgressLine, APipeNeverSeesIt) {
  Captured c = run_into_pipe(kCampaign);
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.err.find('\r'), std::string::npos) << c.err;
  EXPECT_EQ(c.err.find('\x1b'), std::string::npos) << c.err;
  EXPECT_EQ(c.err.find("side inject: 0/2"), std::string::npos) << c.err;
}

TEST(ProgressLine, QuietSilencesItOnATerminal) {
  auto args = kCampaign;
  args.push_back("--quiet");
  Captured c = run_on_terminal(args);
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.err.find("side inject: 0/2"), std::string::npos) << c.err;
  EXPECT_EQ(c.err.find('\x1b'), std::string::npos) << c.err;
}

}  // namespace
}  // namespace side::cli
